"""Events sent to the server: checked one by one, stored durably, folded in by the build.

``POST /v1/shops/{shop}/events`` takes a JSON list of events with the columns of the
canonical ``events`` table (:data:`portrait.schema.EVENTS`). Each event is checked on its
own against that table's declaration (required columns, types, the ``event_type``
vocabulary with the synonyms ingest knows, timestamps between 1990 and two days ahead): the
bad ones come back with their index and every reason, the good ones are kept. An event whose
``event_id`` the server has seen (in the served snapshot's ``events`` table, in its store, or
earlier in the same list) is a duplicate and ignored. Timestamps without a zone are the
shop's local time, as in ingest; they are stored in UTC.

**Stored with nothing lost.** The server owns an append store, ``serving/events/incoming``:
accepted events wait at most 200 ms (or until 1,000 are waiting) and are written as one
Parquet file, fsynced and renamed into place; the request returns after its events are on
disk, so a 200 means stored. :func:`fold` (run by ``portrait build`` before its stages, and
by ``portrait events fold``) ingests those files into the warehouse through
:func:`portrait.ingest.ingest` (where duplicates by ``event_id`` are ignored again, so a
fold that stopped half-way can run again) and moves them to ``serving/events/folded``.
Stored events also update the customer's real-time tags (:mod:`portrait.tags.realtime`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, create_model

from portrait.facts import Fact
from portrait.ingest import IngestReport, ingest
from portrait.ingest.mapping import VALUE_SYNONYMS
from portrait.ingest.validate import EARLIEST
from portrait.schema import EVENTS, Column
from portrait.serving import ServingPaths
from portrait.tags.realtime import RecentEvent
from portrait.workspace import Workspace

log = logging.getLogger(__name__)

__all__ = ["EventIn", "EventStore", "EventsReceived", "FoldReport", "RejectedEvent", "check_event",
           "fold"]  # fmt: skip

#: how timestamps are written to the store (UTC) and read back by ingest
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_STORE_SCHEMA = pa.schema([(c.name, pa.string()) for c in EVENTS.columns])
_SYNONYMS = {k.lower(): v for k, v in VALUE_SYNONYMS.get("event_type", {}).items()}
_PY_TYPES: dict[str, Any] = {"id": str | int, "string": str, "timestamp": datetime,
                             "integer": int, "decimal": float}  # fmt: skip

#: the request body's item, for the OpenAPI description (checking is :func:`check_event`)
EventIn = create_model(  # type: ignore[call-overload]
    "EventIn",
    **{
        c.name: (
            _PY_TYPES[c.kind] if c.required else _PY_TYPES[c.kind] | None,
            Field(... if c.required else None, description=f"{c.en} {c.zh}"),
        )
        for c in EVENTS.columns
    },
)


class RejectedEvent(Fact):
    """An event that was not stored: its position in the list, and every reason."""

    index: int
    reason: str


class EventsReceived(Fact):
    """What became of a list of events: ``accepted`` are on disk when this is returned."""

    received: int
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]


class FoldReport(Fact):
    """Event files ingested into the warehouse and moved to ``folded``."""

    files: int
    events: int
    ingest: IngestReport | None


# -- checking ---------------------------------------------------------------------------------
def _text(col: Column, value: Any) -> tuple[str | None, str | None]:
    """(the value as stored text, the reason it cannot be) for one column."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, (f"{col.name} is missing" if col.required else None)
    kind, shown = col.kind, repr(value)[:80]
    if kind == "id":
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None, f"{col.name} {shown} is not an id (text or a whole number)"
        text = re.sub(r"^(-?\d+)\.0+$", r"\1", str(value).strip())
        return text, None
    if kind == "string":
        if not isinstance(value, str):
            return None, f"{col.name} {shown} is not text"
        text = value.strip()
        if col.vocabulary:
            low = text.lower()
            text = low if low in col.vocabulary else _SYNONYMS.get(low, low)
            if text not in col.vocabulary:
                return None, f"{col.name} {shown} is not one of {', '.join(col.vocabulary)}"
        return text, None
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or (col.minimum is not None and value < col.minimum):
            return None, f"{col.name} {shown} is not a whole number of at least {col.minimum:g}"
        return str(value), None
    if kind == "decimal":
        try:
            number = Decimal(str(value)) if not isinstance(value, bool) else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or abs(number) >= Decimal("1e14"):
            return None, f"{col.name} {shown} is not a number"
        return str(number), None
    raise AssertionError(kind)  # timestamps are checked by _timestamp


def _timestamp(value: Any, zone: ZoneInfo, now: datetime) -> tuple[datetime | None, str | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "ts is missing"
    shown = repr(value)[:80]
    if not isinstance(value, str):
        return None, f"ts {shown} is not an ISO 8601 date/time such as 2024-05-01T12:00:00+08:00"
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, f"ts {shown} is not an ISO 8601 date/time such as 2024-05-01T12:00:00+08:00"
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=zone)
    ts = ts.astimezone(UTC).replace(tzinfo=None)
    if ts < EARLIEST or ts > now + timedelta(days=2):
        return None, f"ts {shown} is before 1990 or in the future"
    return ts, None


def check_event(event: Any, *, zone: ZoneInfo, now: datetime) -> tuple[dict[str, Any] | None, str]:
    """(the row to store, with ``ts`` a UTC datetime; or None and every reason)."""
    if not isinstance(event, dict):
        return None, "an event must be a JSON object"
    reasons = []
    unknown = sorted(set(event) - set(EVENTS.names))
    if unknown:
        reasons.append(f"unknown field {unknown[0]!r} (events have {', '.join(EVENTS.names)})")
    row: dict[str, Any] = {}
    for col in EVENTS.columns:
        if col.kind == "timestamp":
            row[col.name], why = _timestamp(event.get(col.name), zone, now)
        else:
            row[col.name], why = _text(col, event.get(col.name))
        if why:
            reasons.append(why)
    return (None, "; ".join(reasons)) if reasons else (row, "")


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "ts": row["ts"].strftime(TS_FORMAT)}


# -- the store --------------------------------------------------------------------------------
class EventStore:
    """A server's append store for one shop: dedup by id, micro-batches, durable files."""

    def __init__(
        self,
        workspace: Path,
        *,
        timezone: str,
        flush_seconds: float,
        flush_events: int,
        on_stored: Callable[[list[dict[str, Any]]], None],
    ) -> None:
        self.paths = ServingPaths(workspace)
        self.zone = ZoneInfo(timezone)
        self.flush_seconds = flush_seconds
        self.flush_events = flush_events
        self.on_stored = on_stored
        self.seen: set[str] = set()
        self._pending: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._waiting = 0
        self._wake: asyncio.Event | None = None
        self._sequence = 0

    def load(self) -> list[dict[str, Any]]:
        """Remember the ids of the stored files; their rows (for the real-time tags)."""
        rows: list[dict[str, Any]] = []
        for path in self.paths.event_files():
            table = pq.read_table(path)
            self.seen.update(table.column("event_id").to_pylist())
            rows.extend(table.to_pylist())
        return rows

    async def receive(self, events: list[Any]) -> EventsReceived:
        """Check, dedupe and store ``events``; returns once the accepted ones are on disk."""
        now = datetime.now(UTC).replace(tzinfo=None)
        accepted: list[dict[str, Any]] = []
        rejected, duplicates = [], 0
        for i, event in enumerate(events):
            row, why = check_event(event, zone=self.zone, now=now)
            if row is None:
                rejected.append(RejectedEvent(index=i, reason=why))
            elif row["event_id"] in self.seen:
                duplicates += 1
            else:
                self.seen.add(row["event_id"])
                accepted.append(row)
        if accepted:
            try:
                await self._store(accepted)
            except BaseException:
                self.seen.difference_update(r["event_id"] for r in accepted)
                raise
        return EventsReceived(received=len(events), accepted=len(accepted),
                              duplicates=duplicates, rejected=rejected)  # fmt: skip

    async def _store(self, rows: list[dict[str, Any]]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((rows, done))
        self._waiting += len(rows)
        if self._wake is not None:
            self._wake.set()
        await done

    async def run(self) -> None:
        """The flusher: one file per micro-batch (``flush_seconds`` or ``flush_events``)."""
        self._wake = asyncio.Event()
        if self._pending:  # events that came before the flusher started
            self._wake.set()
        while True:
            await self._wake.wait()
            deadline = time.monotonic() + self.flush_seconds
            while self._waiting < self.flush_events and time.monotonic() < deadline:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
            await self.flush()
            self._wake.clear()
            if self._pending:
                self._wake.set()

    async def flush(self) -> None:
        """Write what is waiting, now."""
        batch, self._pending, self._waiting = self._pending, [], 0
        if not batch:
            return
        rows = [row for part, _ in batch for row in part]
        try:
            await asyncio.to_thread(self._write, rows)
        except Exception as exc:  # the disk failed: every waiting request says so
            log.exception("could not store %d events", len(rows))
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        try:
            self.on_stored(rows)
        finally:
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    def _write(self, rows: list[dict[str, Any]]) -> Path:
        folder = self.paths.incoming
        folder.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._sequence:06d}.parquet"
        table = pa.Table.from_pylist([_stored(r) for r in rows], schema=_STORE_SCHEMA)
        tmp = folder / f".{name}.partial"
        with tmp.open("wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        final = folder / name
        os.replace(tmp, final)
        _fsync_dir(folder)
        return final


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recent_event(row: dict[str, Any]) -> RecentEvent:
    """A stored row as the real-time tags read it."""
    ts = row["ts"]
    if isinstance(ts, str):
        ts = datetime.strptime(ts, TS_FORMAT)
    return RecentEvent(ts=ts, event_type=row["event_type"], item_id=row.get("item_id"))


# -- folding into the warehouse ---------------------------------------------------------------
def fold(ws: Workspace) -> FoldReport:
    """Ingest the events the server stored into the warehouse; move their files to ``folded``.

    Files that arrive while this runs wait for the next fold. Safe to repeat: an event
    ingested before is a duplicate (by ``event_id``) and changes nothing.
    """
    paths = ServingPaths(ws.path)
    files = sorted(paths.incoming.glob("*.parquet")) if paths.incoming.is_dir() else []
    if not files:
        return FoldReport(files=0, events=0, ingest=None)
    table = pa.concat_tables([pq.read_table(f, schema=_STORE_SCHEMA) for f in files])
    report = None
    if table.num_rows:
        with tempfile.TemporaryDirectory(dir=paths.root) as tmp:
            combined = Path(tmp) / "events.parquet"
            pq.write_table(table, combined)
            report = ingest(ws, combined, table="events", ts_format=TS_FORMAT, timezone="UTC")
    paths.folded.mkdir(parents=True, exist_ok=True)
    for f in files:
        os.replace(f, paths.folded / f.name)
    _fsync_dir(paths.folded)
    log.info("folded %d event files (%d events)", len(files), table.num_rows)
    return FoldReport(files=len(files), events=table.num_rows, ingest=report)
