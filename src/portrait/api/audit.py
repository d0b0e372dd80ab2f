"""The audit log: one JSON line per request that read (or tried to read) a customer.

``serving/audit.jsonl`` in the shop's workspace gets, for every request to a
``/customers/{user_id}`` route whatever its outcome: the time (UTC), the key's id and role
(null when no valid key was sent), the method and route, the customer's id and the status.
Never the key. Forgetting a customer rewrites their lines with the id removed
(:meth:`AuditLog.forget`): the log keeps that a customer was read, not which. Writers and
the rewrite take a file lock, so a server and ``portrait forget`` can share the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["AuditLog"]


class AuditLog:
    """Appends to one shop's audit file; safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.with_suffix(".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def write(self, *, key_id: str | None, role: str | None, method: str, route: str,
              user_id: str | None, status: int) -> None:  # fmt: skip
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"), "key_id": key_id,
            "role": role, "method": method, "route": route, "user_id": user_id,
            "status": status,
        }  # fmt: skip
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._locked(), self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)

    def forget(self, ids: Iterable[str]) -> int:
        """Blank the customer id of the lines about ``ids``; how many lines changed."""
        forgotten = set(ids)
        with self._locked():
            if not self.path.exists():
                return 0
            out, changed = [], 0
            for line in self.path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                if entry.get("user_id") in forgotten:
                    entry.update(user_id=None, forgotten=True)
                    changed += 1
                out.append(json.dumps(entry, ensure_ascii=False) + "\n")
            if changed:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text("".join(out), encoding="utf-8")
                os.replace(tmp, self.path)
        return changed
