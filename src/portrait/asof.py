"""Time: the as-of date of a computation and the local-day arithmetic every stage shares.

``as_of`` is a local calendar date of the shop: features see only data strictly before its
local midnight. Windows are whole local days (``orders_30d`` starts at local midnight 30 days
earlier) and day counts are differences of local dates, so a purchase at 23:30 local time
belongs to its own day, not to the next one in UTC. Converting UTC to local wall time is the
one thing the engines spell differently; it is done here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait.engine import Engine
from portrait.errors import ConfigError, DataError

if TYPE_CHECKING:
    from portrait.workspace import Workspace

_UTC_TS = dt.Timestamp(timezone="UTC")
_DAY = 86_400


@ibis.udf.scalar.builtin(name="timezone")  # type: ignore[untyped-decorator]
def _duckdb_local(zone: str, ts: _UTC_TS) -> dt.timestamp:  # type: ignore[valid-type]
    """DuckDB: an instant as wall-clock time in ``zone``."""


@ibis.udf.scalar.builtin(name="from_utc_timestamp")  # type: ignore[untyped-decorator]
def _spark_local(ts: dt.timestamp, zone: str) -> dt.timestamp:
    """Spark: a UTC wall time as wall-clock time in ``zone``."""


def utc_of_local_midnight(day: date, zone: str) -> datetime:
    """The UTC instant (naive) at which ``day`` starts in ``zone``."""
    local = datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


@dataclass(frozen=True)
class AsOf:
    """When features are computed: a local date, the shop's zone and the engine's dialect."""

    date: date
    timezone: str
    engine: Engine = Engine.DUCKDB

    @property
    def cutoff(self) -> datetime:
        """Data at or after this UTC instant is the future and is never read."""
        return utc_of_local_midnight(self.date, self.timezone)

    def cutoff_literal(self) -> ir.TimestampScalar:
        return ibis.literal(self.cutoff, dt.timestamp)

    def window_start(self, days: int) -> ir.TimestampScalar:
        """Start of the last ``days`` local days before the as-of date, in UTC."""
        start = utc_of_local_midnight(self.date - timedelta(days=days), self.timezone)
        return ibis.literal(start, dt.timestamp)

    def local(self, ts: ir.TimestampValue) -> ir.TimestampValue:
        """A stored UTC timestamp as the shop's wall-clock time."""
        if self.timezone == "UTC":
            return ts
        if self.engine is Engine.SPARK:
            return _spark_local(ts, self.timezone)
        return _duckdb_local(self.timezone, ts.cast(_UTC_TS))

    def local_day(self, ts: ir.TimestampValue) -> ir.IntegerValue:
        """The local calendar day of ``ts``, as days since 1970-01-01."""
        return (self.local(ts).truncate("D").epoch_seconds().cast(dt.int64) // _DAY).cast(dt.int64)

    @property
    def day_number(self) -> int:
        """The as-of date as days since 1970-01-01."""
        return (self.date - date(1970, 1, 1)).days

    def days_before(self, ts: ir.TimestampValue) -> ir.IntegerValue:
        """Whole local days from the day of ``ts`` to the as-of date (1 = the day before)."""
        return ibis.literal(self.day_number, dt.int64) - self.local_day(ts)


def default_as_of(ws: Workspace) -> date:
    """The day after the last activity in the warehouse, in the shop's time zone.

    Shops analyse historical exports; "today" would make every customer of a 2011 export
    look long gone, so the default is the day the data ends.
    """
    last = None
    for name in ("orders", "events", "reviews"):
        t = ws.table(name)
        value = t.ts.max().execute()
        if value is not None and value == value and (last is None or value > last):
            last = value
    if last is None:
        raise DataError(
            "The workspace has no dated orders, events or reviews yet; ingest some first "
            "(portrait ingest FILE), or give --as-of YYYY-MM-DD."
        )
    local: datetime = last.tz_localize("UTC").tz_convert(ZoneInfo(ws.config.shop.timezone))
    return local.date() + timedelta(days=1)


def parse_date(value: str | date, *, option: str = "--as-of") -> date:
    """A ``YYYY-MM-DD`` date; a clear error naming ``option`` otherwise."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date; write it as YYYY-MM-DD.") from None


def parse_as_of(value: str | date | None, ws: Workspace) -> date:
    """The as-of date asked for, or the day the workspace's data ends."""
    return default_as_of(ws) if value is None else parse_date(value)
