"""One shop as the server holds it: its snapshot, keys, audit log, event store, real-time tags.

A shop is a workspace; its name in URLs is the workspace folder's name. At start the server
publishes a first snapshot for a workspace that has none (when no build holds the warehouse;
otherwise the shop answers 409 until ``portrait build`` publishes one), loads the event
store's files (their ids, for duplicates; their last 48 hours, for the real-time tags) and
then follows ``serving/CURRENT``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portrait.api.audit import AuditLog
from portrait.api.events import EventStore, recent_event
from portrait.api.forget import forget
from portrait.api.keys import KeyStore
from portrait.api.settings import ServerConfig
from portrait.api.snapshot import (
    Published,
    Snapshot,
    current,
    publish_if_changed,
    snapshot_stamp,
)
from portrait.errors import NotBuiltError, WorkspaceBusyError
from portrait.privacy import ForgetReport
from portrait.serving import ServingPaths
from portrait.tags.realtime import RealtimeTags, RecentEvents
from portrait.workspace import open_workspace

log = logging.getLogger(__name__)

__all__ = ["Shop"]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Shop:
    """A served workspace."""

    def __init__(self, name: str, path: Path, settings: ServerConfig) -> None:
        self.name = name
        self.path = path
        self.paths = ServingPaths(path)
        self.settings = settings
        self.timezone = open_workspace(path).config.shop.timezone
        self.keys = KeyStore(path)
        self.audit = AuditLog(self.paths.audit)
        self.recent = RecentEvents()
        self.events = EventStore(
            path, timezone=self.timezone, flush_seconds=settings.flush_seconds,
            flush_events=settings.flush_events, on_stored=self._stored,
        )  # fmt: skip
        self._snapshot: Snapshot | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._refreshing = threading.Lock()

    # -- lifetime ---------------------------------------------------------------------------
    def start(self) -> None:
        """Publish a first snapshot if needed, open it, and load the event store."""
        if current(self.paths) is None:
            try:
                with open_workspace(self.path) as ws:
                    publish_if_changed(ws)
            except WorkspaceBusyError:
                log.warning("shop %s: the warehouse is busy; serving from the next build's "
                            "snapshot", self.name)  # fmt: skip
        self.refresh()
        self._stored(self.events.load())

    def close(self) -> None:
        snap, self._snapshot = self._snapshot, None
        if snap is not None:
            snap.retire()

    def refresh(self) -> bool:
        """Switch to the snapshot ``CURRENT`` names if it is new; whether it switched."""
        with self._refreshing:
            stamp = snapshot_stamp(self.paths)
            if stamp is None or stamp == self._stamp:
                return False
            published = current(self.paths)
            if published is None:
                return False
            if self._snapshot is not None and self._snapshot.run_id == published.run_id:
                self._stamp = stamp
                return False
            fresh = Snapshot(self.path, published, connections=self.settings.connections)
            self.events.seen.update(fresh.event_ids())
            old, self._snapshot, self._stamp = self._snapshot, fresh, stamp
            if old is not None:
                old.retire()
            log.info("shop %s: serving snapshot %s", self.name, published.run_id)
            return True

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """The snapshot being served, held for one request."""
        while True:
            snap = self._snapshot
            if snap is None:
                raise NotBuiltError(
                    f"The shop {self.name!r} has nothing to serve yet; run `portrait build -w "
                    f"{self.path}` (it publishes a snapshot the server picks up)."
                )
            if snap.acquire():
                break
        try:
            yield snap
        finally:
            snap.release()

    def published(self) -> Published | None:
        """What the snapshot being served holds."""
        snap = self._snapshot
        return snap.published if snap is not None else None

    # -- customers --------------------------------------------------------------------------
    def _stored(self, rows: list[dict[str, Any]]) -> None:
        now = _now()
        for row in rows:
            self.recent.add(row["user_id"], recent_event(row), now=now)

    def realtime(self, user_id: str) -> RealtimeTags:
        return self.recent.tags(user_id, now=_now(), timezone=self.timezone)

    def forget(self, user_id: str, *, requested_by: str) -> ForgetReport:
        """Forget a customer everywhere, this server's memory and snapshots included."""
        report, ids = forget(self.path, user_id, requested_by=requested_by)
        self.recent.forget(ids)
        self.refresh()
        return report
