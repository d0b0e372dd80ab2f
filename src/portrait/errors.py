"""Portrait's errors: one root, a subclass per kind of thing that went wrong.

Every message is one sentence that says what is wrong and what to do about it. The kind
decides what an interface does with it: the CLI maps it to an exit code
(:attr:`PortraitError.exit_code`), the API to an HTTP status (:attr:`PortraitError.status`).
Each subclass also inherits the builtin it resembles (``except ValueError`` still works), as
ibis does. Nothing catches these errors to steer normal work: a missing model or table is
asked about first (``has_...``/``... is None``), not discovered by failing.
"""

from __future__ import annotations


class PortraitError(Exception):
    """Root of every error Portrait raises on purpose."""

    #: exit code of the ``portrait`` command for this kind of error
    exit_code: int = 2
    #: HTTP status of the REST API for this kind of error
    status: int = 400


class ConfigError(PortraitError, ValueError):
    """``portrait.toml``, an option or an argument is invalid."""

    status = 422


class DataError(PortraitError, ValueError):
    """The shop's data cannot support what was asked (no customers, one class, no ratings)."""

    exit_code = 3
    status = 422


class SchemaError(DataError):
    """A table, column or mapping does not fit the canonical data model."""


class SourceError(DataError):
    """A source file cannot be read as a whole (empty, binary, wrong format or encoding)."""


class WorkspaceError(PortraitError, FileNotFoundError):
    """A folder is not a workspace, or is one already."""

    exit_code = 4
    status = 404


class NotBuiltError(PortraitError, LookupError):
    """What was asked for is computed by ``portrait build``, which has not run yet."""

    exit_code = 5
    status = 409


class NotFoundError(PortraitError, KeyError):
    """An id (a customer, a tag, a preset) that the workspace does not know."""

    exit_code = 6
    status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotFittedError(PortraitError, AttributeError):
    """A model method was called before ``fit``; the message names the method to call."""

    exit_code = 7
    status = 409


class WorkspaceBusyError(PortraitError, BlockingIOError):
    """Another process holds the workspace's warehouse for writing."""

    exit_code = 8
    status = 423


class MissingExtraError(PortraitError, ImportError):
    """An optional part is not installed; the message names the extra."""

    exit_code = 9
    status = 501


class ConfirmationNeeded(ConfigError):
    """A run would make more paid model calls than ``[llm].max_paid_calls``; pass ``yes``."""


class LLMError(PortraitError, ConnectionError):
    """The model endpoint did not give a usable answer (timeouts, refusals, errors)."""

    exit_code = 10
    status = 502
