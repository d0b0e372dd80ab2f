"""Portrait's errors: one root, each also the builtin it resembles.

Every message is one sentence that says what is wrong and what to do about it; the CLI
prints it as it is (no traceback) and the API maps it to an HTTP status.
"""

from __future__ import annotations


class PortraitError(Exception):
    """Root of every error Portrait raises on purpose."""


class ConfigError(PortraitError, ValueError):
    """``portrait.toml`` or an option is invalid."""


class WorkspaceError(PortraitError, FileNotFoundError):
    """A workspace is missing, or a folder is not one."""


class SchemaError(PortraitError, ValueError):
    """A table, column or mapping does not fit the canonical data model."""


class SourceError(PortraitError, ValueError):
    """A source file cannot be read as a whole (empty, binary, wrong format or encoding)."""


class MissingExtraError(PortraitError, ImportError):
    """An optional part is not installed; the message names the extra."""
