"""Read snapshots: how a running server and ``portrait build`` share one workspace.

DuckDB lets one process write a database file. That process is the build (or an ingest, or
``portrait forget``); the server never opens ``warehouse.duckdb``. After each build,
:func:`publish` (called by ``portrait build``, ``portrait serve`` when a workspace has no
snapshot yet, and ``portrait forget``) writes, from the writer's own connection:

1. ``serving/warehouse-<run_id>.duckdb``: a copy of the warehouse (DuckDB's ``COPY FROM
   DATABASE`` into an attached file), which the server opens read-only;
2. ``serving/profiles-<run_id>.sqlite``: every customer's profile
   (:func:`portrait.profile.customer_profiles`) as JSON under its ``user_id``, the aliases
   of ``identities`` and the built personas, so that a profile read is one indexed lookup
   (measured on the demo shop: :func:`~portrait.profile.customer_profile` takes ~70 ms per
   customer in DuckDB queries; the lookup well under a millisecond);
3. ``serving/CURRENT``: which snapshot to serve, replaced atomically (a temporary file and
   ``os.replace``), so a reader sees the old snapshot or the new one, never half of one.

Snapshots beyond the newest two are deleted. The server looks at ``CURRENT`` at most once a
second, opens a new snapshot beside the old one, switches new requests to it, and closes the
old one when its last request is done (:class:`Snapshot` counts them). A build while the
server runs therefore neither fails (no lock is shared) nor stalls reads (the switch is a
pointer swap). Facts that take whole-table queries (segments, tags, reviews) are computed
once per snapshot and kept with it.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from portrait import history
from portrait.errors import NotBuiltError
from portrait.facts import Fact
from portrait.hashing import fingerprint
from portrait.llm.stage import built_personas
from portrait.profile import customer_profiles
from portrait.serving import ServingPaths
from portrait.workspace import Workspace, open_workspace, utcnow

log = logging.getLogger(__name__)

__all__ = ["Published", "Snapshot", "current", "publish", "publish_if_changed", "purge"]

T = TypeVar("T")
#: snapshots kept on disk: the one being served and the one before (in-flight requests)
KEEP = 2


class Published(Fact):
    """A published snapshot: its files (in ``serving/``) and what it holds."""

    run_id: str
    warehouse: str
    profiles: str
    #: what the warehouse held (its data version and stage runs), hashed
    source: str
    customers: int
    published_at: datetime
    seconds: float


def publish(ws: Workspace, *, keep: int = KEEP) -> Published:
    """Copy the warehouse and its profiles to a new read snapshot and make it current.

    Runs on the caller's (writing) connection; the copy is of the committed state.
    """
    t0 = time.perf_counter()
    paths = ServingPaths(ws.path)
    paths.root.mkdir(parents=True, exist_ok=True)
    run_id = f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    warehouse, profiles = paths.warehouse(run_id), paths.profiles(run_id)
    partial = warehouse.with_suffix(".partial")
    ws.copy_warehouse(partial)
    os.replace(partial, warehouse)
    customers = _write_profiles(ws, profiles)
    published = Published(
        run_id=run_id, warehouse=warehouse.name, profiles=profiles.name, source=_source(ws),
        customers=customers,
        published_at=utcnow(), seconds=round(time.perf_counter() - t0, 3),
    )  # fmt: skip
    tmp = paths.current.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(published.model_dump_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, paths.current)
    purge(paths, keep=keep)
    log.info("published snapshot %s (%d customers)", run_id, customers)
    return published


def _source(ws: Workspace) -> str:
    return fingerprint(ws.data_version(), ws.count("runs"))


def publish_if_changed(
    ws: Workspace, *, keep: int = KEEP, served_only: bool = False
) -> Published | None:
    """:func:`publish`, unless the current snapshot holds what the warehouse holds now;
    with ``served_only``, also unless the workspace has never been served (no snapshot:
    ``portrait serve`` publishes the first)."""
    paths = ServingPaths(ws.path)
    now = current(paths)
    if now is None and served_only:
        return None
    if (now is not None and now.source == _source(ws) and (paths.root / now.warehouse).exists()
            and (paths.root / now.profiles).exists()):  # fmt: skip
        return None
    return publish(ws, keep=keep)


def _write_profiles(ws: Workspace, path: Path) -> int:
    """The serving store: one JSON profile per customer, aliases, personas; the count."""
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    try:
        db.executescript("""
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
            CREATE TABLE profiles (user_id TEXT PRIMARY KEY, rfm_segment TEXT,
                lifecycle_stage TEXT, cluster TEXT, doc TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE aliases (alias TEXT PRIMARY KEY, person TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE personas (grouping TEXT, segment TEXT, doc TEXT NOT NULL,
                PRIMARY KEY (grouping, segment)) WITHOUT ROWID;
        """)
        built = ws.has_table("features")
        db.execute("INSERT INTO meta VALUES ('built', ?)", ("1" if built else "0",))
        n = 0
        if built:
            batch: list[tuple[Any, ...]] = []
            for p in customer_profiles(ws):
                s = p.segments
                cluster = None if s.cluster is None else str(s.cluster)
                batch.append((p.user_id, s.rfm_segment, s.lifecycle_stage, cluster,
                              p.model_dump_json()))  # fmt: skip
                if len(batch) >= 5000:
                    db.executemany("INSERT INTO profiles VALUES (?, ?, ?, ?, ?)", batch)
                    n, batch = n + len(batch), []
            db.executemany("INSERT INTO profiles VALUES (?, ?, ?, ?, ?)", batch)
            n += len(batch)
        db.executemany("INSERT INTO aliases VALUES (?, ?)", history.alias_links(ws.con))
        if ws.has_table("personas"):
            db.executemany(
                "INSERT INTO personas VALUES (?, ?, ?)",
                [(p.grouping, p.segment, p.model_dump_json())
                 for p in built_personas(ws).personas],
            )  # fmt: skip
        db.commit()
    finally:
        db.close()
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, path)
    return n


def current(paths: ServingPaths) -> Published | None:
    """The snapshot ``CURRENT`` names, or None before the first publish."""
    try:
        return Published.model_validate_json(paths.current.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def purge(paths: ServingPaths, *, keep: int = KEEP) -> list[str]:
    """Delete the snapshots older than the newest ``keep`` (never the current one)."""
    now = current(paths)
    runs = sorted({p.name.removeprefix("warehouse-").removesuffix(".duckdb")
                   for p in paths.root.glob("warehouse-*.duckdb")})  # fmt: skip
    old = [r for r in runs[: max(len(runs) - keep, 0)] if now is None or r != now.run_id]
    for run_id in old:
        for path in (paths.warehouse(run_id), paths.profiles(run_id)):
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".wal").unlink(missing_ok=True)
    return old


class Snapshot:
    """A server's open snapshot: SQLite for profiles, a small pool of read-only DuckDB
    connections for the library's queries, and facts memoised for its lifetime.

    Requests hold it between :meth:`acquire` and :meth:`release`; once retired (a newer
    snapshot is served), it closes when its last request releases it.
    """

    def __init__(self, workspace: Path, published: Published, *, connections: int) -> None:
        paths = ServingPaths(workspace)
        self.workspace = workspace
        self.published = published
        self.run_id = published.run_id
        self._warehouse = paths.root / published.warehouse
        self._profiles = paths.root / published.profiles
        if not self._warehouse.exists() or not self._profiles.exists():
            raise FileNotFoundError(f"snapshot {published.run_id} is incomplete or deleted")
        self._lock = threading.Lock()
        self._users = 0
        self._retired = False
        self._closed = False
        self._memo: dict[Any, Any] = {}
        self._memo_locks: dict[Any, threading.Lock] = {}
        # everything is opened now: publishing may delete the files once a newer snapshot
        # is current, and what is open stays readable
        uri = f"{self._profiles.as_uri()}?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._db_lock = threading.Lock()
        self._pool: queue.Queue[Workspace] = queue.Queue()
        self._opened: list[Workspace] = []
        try:
            for _ in range(connections):
                ws = open_workspace(workspace, warehouse=self._warehouse, read_only=True)
                ws.con  # noqa: B018 - opens the connection now
                self._opened.append(ws)
                self._pool.put(ws)
        except BaseException:
            self.close()
            raise
        self.built = self._query("SELECT value FROM meta WHERE key = 'built'")[0][0] == "1"
        self.personas: dict[tuple[str, str], str] = {
            (g, s): doc for g, s, doc in self._query("SELECT grouping, segment, doc FROM personas")
        }

    # -- lifetime -----------------------------------------------------------------------
    def acquire(self) -> bool:
        """Count a request in; False if the snapshot is already closed."""
        with self._lock:
            if self._closed:
                return False
            self._users += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            close = self._retired and self._users == 0
        if close:
            self.close()

    def retire(self) -> None:
        """No new requests come; close when the last one is done."""
        with self._lock:
            self._retired = True
            close = self._users == 0
        if close:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for ws in self._opened:
            ws.close()
        self._db.close()

    # -- reading ------------------------------------------------------------------------
    def _query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self._db_lock:
            return self._db.execute(sql, args).fetchall()

    def profile(self, user_id: str) -> tuple[str, str, list[str]] | None:
        """(person id, profile JSON, persona JSONs) of ``user_id`` or its person, or None."""
        rows = self._query("SELECT * FROM profiles WHERE user_id = ?", user_id)
        if not rows:
            rows = self._query(
                "SELECT p.* FROM aliases AS a JOIN profiles AS p ON p.user_id = a.person "
                "WHERE a.alias = ?", user_id,
            )  # fmt: skip
            if not rows:
                return None
        person, rfm, stage, cluster, doc = rows[0]
        keys = (("rfm_segment", rfm), ("lifecycle_stage", stage), ("cluster", cluster))
        personas = [self.personas[k] for k in keys if k in self.personas]
        return person, doc, personas

    def require_built(self) -> None:
        """The library's own error when the snapshot's build wrote no profiles."""
        if not self.built:
            with self.reading() as ws:
                ws.require("features")
            raise NotBuiltError("This shop has no profiles yet; run `portrait build` first.")

    @contextmanager
    def reading(self) -> Iterator[Workspace]:
        """A read-only workspace on the snapshot, for one library call at a time."""
        ws = self._pool.get()
        try:
            yield ws
        finally:
            self._pool.put(ws)

    def call(self, fn: Callable[[Workspace], T]) -> T:
        """``fn`` on a pooled read-only workspace."""
        with self.reading() as ws:
            return fn(ws)

    def memo(self, key: Any, fn: Callable[[Workspace], T]) -> T:
        """``fn`` on the snapshot, computed once for its lifetime (facts of a build do not
        change while it is served); concurrent first calls wait for one computation."""
        if key in self._memo:
            return self._memo[key]  # type: ignore[no-any-return]
        with self._lock:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                self._memo[key] = self.call(fn)
        return self._memo[key]  # type: ignore[no-any-return]

    def event_ids(self) -> list[str]:
        """The ids of the events in the snapshot's warehouse."""
        return self.call(lambda ws: history.event_ids(ws.con))


def snapshot_stamp(paths: ServingPaths) -> tuple[int, int, int] | None:
    """What changes when ``CURRENT`` is replaced (its mtime, size and inode)."""
    try:
        st = paths.current.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino
