"""API keys: a role, a shop, and only a salted hash of the key on disk.

A key reads ``pt_<key id>_<secret>``; it is shown once, when made (``portrait api-key create``
or ``POST /v1/shops/{shop}/keys``). ``serving/api_keys.json`` in the shop's workspace keeps
per key its id, role, shop, creation time and who made it, a random salt and the scrypt hash
of the secret (RFC 7914; n=2^14, r=8, p=1), so a stolen file does not give the keys away.
The file is changed under a lock and replaced atomically, so the CLI and a running server
can both change it.

Roles, each allowing what the one before does and more:

- ``viewer``: aggregates and insight (segments, tags, the feature catalogue, reviews);
- ``analyst``: also customers (profiles, recommendations, real-time tags; a profile holds no
  personal data: phone, e-mail, name and address are stored only pseudonymised and never
  leave in a profile) and sending events;
- ``admin``: everything, including keys and forgetting a customer.

A server checks a presented key against the hash once (scrypt costs tens of milliseconds on
purpose) and then remembers, in memory only, the SHA-256 of the keys it has verified.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from portrait.errors import ConfigError, NotFoundError
from portrait.facts import Fact
from portrait.serving import ServingPaths

__all__ = ["ROLES", "ApiKeyInfo", "ApiKeys", "KeyStore", "NewApiKey", "Role", "allows",
           "create_key", "list_keys", "revoke_key"]  # fmt: skip

Role = Literal["viewer", "analyst", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "analyst", "admin")
_KEY = re.compile(r"^pt_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def allows(role: Role, needed: Role) -> bool:
    """Whether ``role`` may do what ``needed`` may."""
    return ROLES.index(role) >= ROLES.index(needed)


class ApiKeyInfo(Fact):
    """A key as listed: never the key itself."""

    key_id: str
    role: Role
    shop: str
    created_at: datetime
    created_by: str


class ApiKeys(Fact):
    keys: list[ApiKeyInfo]


class NewApiKey(Fact):
    """A key just made: ``key`` is shown this once and stored only as a hash."""

    key: str
    info: ApiKeyInfo


def _hash(secret: str, salt: bytes, params: dict[str, int] = _SCRYPT) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **params)


@contextmanager
def _locked(paths: ServingPaths) -> Iterator[None]:
    paths.root.mkdir(parents=True, exist_ok=True)
    with (paths.root / "api_keys.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read(paths: ServingPaths) -> list[dict[str, Any]]:
    if not paths.api_keys.exists():
        return []
    keys: list[dict[str, Any]] = json.loads(paths.api_keys.read_text(encoding="utf-8"))["keys"]
    return keys


def _write(paths: ServingPaths, keys: list[dict[str, Any]]) -> None:
    tmp = paths.api_keys.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"keys": keys}, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, paths.api_keys)


def _info(record: dict[str, Any]) -> ApiKeyInfo:
    return ApiKeyInfo.model_validate({k: record[k] for k in ApiKeyInfo.model_fields})


def create_key(workspace: Path, role: str, *, created_by: str) -> NewApiKey:
    """Make a key for the shop in ``workspace`` with ``role``; the key is in the result only."""
    if role not in ROLES:
        raise ConfigError(f"{role!r} is not a role; the roles are {', '.join(ROLES)}.")
    paths = ServingPaths(Path(workspace).resolve())
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    record = {
        "key_id": key_id, "role": role, "shop": paths.workspace.name,
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "created_by": created_by, "salt": salt.hex(), "hash": _hash(secret, salt).hex(),
        "scrypt": _SCRYPT,
    }  # fmt: skip
    with _locked(paths):
        _write(paths, [*_read(paths), record])
    return NewApiKey(key=f"pt_{key_id}_{secret}", info=_info(record))


def list_keys(workspace: Path) -> ApiKeys:
    """The shop's keys (ids, roles, when and by whom made), oldest first."""
    return ApiKeys(keys=[_info(r) for r in _read(ServingPaths(Path(workspace).resolve()))])


def revoke_key(workspace: Path, key_id: str) -> ApiKeyInfo:
    """Delete the key ``key_id``; it stops working at once (a server rereads the file)."""
    paths = ServingPaths(Path(workspace).resolve())
    with _locked(paths):
        keys = _read(paths)
        found = [r for r in keys if r["key_id"] == key_id]
        if not found:
            raise NotFoundError(
                f"No API key {key_id!r} in this shop; `portrait api-key list` shows the keys."
            )
        _write(paths, [r for r in keys if r["key_id"] != key_id])
    return _info(found[0])


class KeyStore:
    """A server's view of one shop's keys: rereads the file when it changes (checked at most
    once a second, and for every unknown key id), and remembers the keys it verified."""

    def __init__(self, workspace: Path) -> None:
        self.paths = ServingPaths(workspace)
        self._records: dict[str, dict[str, Any]] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._verified: dict[bytes, str] = {}
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        with self._lock:
            try:
                st = self.paths.api_keys.stat()
                stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_ino)
            except FileNotFoundError:
                stamp = None
            self._checked = time.monotonic()
            if stamp == self._stamp:
                return
            self._records = {r["key_id"]: r for r in _read(self.paths)} if stamp else {}
            self._stamp = stamp

    def _fresh(self) -> None:
        if time.monotonic() - self._checked >= 1.0:
            self.reload()

    @staticmethod
    def key_id(presented: str) -> str | None:
        """The key id of a well-formed key, else None."""
        m = _KEY.match(presented)
        return m.group(1) if m else None

    def owns(self, key_id: str) -> bool:
        """Whether ``key_id`` is this shop's; an id not seen yet rereads a changed file (a
        key just made by ``portrait api-key create`` works at once)."""
        self._fresh()
        if key_id not in self._records:
            self.reload()
        return key_id in self._records

    def cached(self, presented: str) -> ApiKeyInfo | None:
        """The key's record if this server verified it before and it still exists (fast)."""
        key_id = self._verified.get(hashlib.sha256(presented.encode()).digest())
        if key_id is None:
            return None
        self._fresh()
        record = self._records.get(key_id)
        return _info(record) if record is not None else None

    def verify(self, presented: str) -> ApiKeyInfo | None:
        """The key's record if ``presented`` is one of this shop's keys (scrypt: slow)."""
        m = _KEY.match(presented)
        if m is None:
            return None
        self._fresh()
        record = self._records.get(m.group(1))
        if record is None:
            return None
        got = _hash(m.group(2), bytes.fromhex(record["salt"]), record.get("scrypt", _SCRYPT))
        if not hmac.compare_digest(got, bytes.fromhex(record["hash"])):
            return None
        self._verified[hashlib.sha256(presented.encode()).digest()] = record["key_id"]
        return _info(record)
