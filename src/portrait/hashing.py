"""Hashes, one place: of files (has this export been ingested?), of values inside a query
(row keys, pseudonyms) and of settings (has this stage's configuration changed?)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import ibis


@ibis.udf.scalar.builtin  # type: ignore[untyped-decorator]
def md5(text: str) -> str:  # type: ignore[empty-body]
    """DuckDB's ``md5``, hex digest: a row's natural key when it has no id of its own."""


@ibis.udf.scalar.builtin  # type: ignore[untyped-decorator]
def sha256(text: str) -> str:  # type: ignore[empty-body]
    """DuckDB's ``sha256``, hex digest: pseudonyms of PII under the workspace's key."""


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks (exports run to gigabytes)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def fingerprint(*parts: Any) -> str:
    """A short, stable hash of JSON-able values (key order does not matter)."""
    raw = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]
