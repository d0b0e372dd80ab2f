"""Turning source text into typed values, as Ibis expressions over the staged source.

Each parser takes a text column and returns the typed column, null where the text does not
parse; validation compares the two to say which value failed and why. Timestamps get one
format per column, detected from a sample (or given), so that ``3/4/2024`` means the same
day in every row of a file instead of whatever each row happens to fit. A column that mixes
known formats (ISO dates and ``15/03/2024``) reads each value in its own format; a value that
two of them read as different days (``03/04/2024`` in a file with day-first and month-first
dates) is null, and rejected with a hint naming ``--ts-format``.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait.errors import SourceError

MONEY = dt.Decimal(18, 4)
UTC_TS = dt.Timestamp(timezone="UTC")


@ibis.udf.scalar.builtin  # type: ignore[untyped-decorator]
def try_strptime(text: str, fmt: str) -> dt.timestamp:
    """DuckDB's ``try_strptime``: null instead of an error when the text does not fit."""


@ibis.udf.scalar.builtin(name="timezone")  # type: ignore[untyped-decorator]
def local_to_utc(zone: str, ts: dt.timestamp) -> UTC_TS:  # type: ignore[valid-type]
    """DuckDB's ``timezone(zone, ts)``: a wall-clock time in ``zone`` as an instant."""


@ibis.udf.scalar.builtin  # type: ignore[untyped-decorator]
def make_timestamp(micros: dt.int64) -> dt.timestamp:
    """DuckDB's ``make_timestamp``: microseconds since the Unix epoch as a UTC timestamp."""


def clean_text(text: ir.StringValue, *, free_text: bool = True) -> ir.StringValue:
    """Trim, and make empty text null; in free text also drop stray byte-order marks.

    (Only free text: in an id or a number a BOM is a reason to reject, and looking for
    one in every value of every column would cost a scan of each.)
    """
    if free_text:
        text = text.replace("\ufeff", "")
    return text.strip().nullif("")


def parse_id(text: ir.StringValue) -> ir.StringValue:
    """Ids are strings; ``17850.0`` (a number exported as float) becomes ``17850``."""
    return text.endswith(".0").ifelse(text.re_replace(r"^(-?\d+)\.0+$", r"\1"), text)


def _numeric_text(text: ir.StringValue) -> ir.StringValue:
    """Drop currency signs, thousands separators and spaces: ``¥1,234.50`` -> ``1234.50``."""
    return text.re_replace(r"[¥￥$€£,，\s]", "")


def parse_decimal(text: ir.StringValue) -> ir.DecimalValue:
    """Plain numbers directly; only those that fail get their signs and separators removed."""
    return ibis.coalesce(text.try_cast(MONEY), _numeric_text(text).try_cast(MONEY))


def parse_float(text: ir.StringValue) -> ir.FloatingValue:
    return ibis.coalesce(text.try_cast(dt.float64), _numeric_text(text).try_cast(dt.float64))


def parse_integer(text: ir.StringValue) -> ir.IntegerValue:
    """Whole numbers; ``2.0`` is 2, ``2.5`` is not an integer (null).

    Read as a double and kept only if whole and exact: DuckDB's own cast to an integer
    rounds ``2.5`` to 3, and a wide-decimal cast is ten times slower.
    """
    number = parse_float(text)
    whole = (number == number.floor()) & (number.abs() < 2**53)
    return whole.ifelse(number.cast(dt.int64), ibis.null(dt.int64))


_TRUE = ("true", "t", "yes", "y", "1", "是", "真")
_FALSE = ("false", "f", "no", "n", "0", "否", "假")


def parse_boolean(text: ir.StringValue) -> ir.BooleanValue:
    low = text.lower()
    return ibis.cases((low.isin(_TRUE), True), (low.isin(_FALSE), False), else_=None).cast(
        dt.boolean
    )


# -- timestamps ----------------------------------------------------------------------------

#: Formats tried, in order, when none is given. Day-first and month-first forms are both
#: here; the first that reads every sampled value wins, and ``--ts-format`` overrides.
TS_FORMATS: tuple[str, ...] = (
    "epoch_s",
    "epoch_ms",
    "iso",
    "iso_tz",
    "%Y%m%d",
    "%Y%m%d%H%M%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M",
    "%Y年%m月%d日",
    "%d-%b-%y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
)


@dataclass(frozen=True)
class TimestampFormat:
    """How one column's timestamps are written, and the zone of those without one."""

    format: str
    timezone: str
    #: more formats the column holds, tried in order after ``format``
    also: tuple[str, ...] = ()

    @property
    def formats(self) -> tuple[str, ...]:
        return (self.format, *self.also)

    def parse(self, text: ir.StringValue) -> ir.TimestampValue:
        """The instant in UTC (a naive timestamp, the warehouse's convention)."""
        if not self.also:
            return self._parse_one(self.format, text)
        parsed = {f: self._parse_one(f, text) for f in self.formats}
        value = ibis.coalesce(*parsed.values())
        ambiguous = [
            parsed[a].notnull() & parsed[b].notnull() & (parsed[a] != parsed[b])
            for a, b in _swapped_pairs(self.formats)
        ]
        if not ambiguous:
            return value
        return functools.reduce(operator.or_, ambiguous).ifelse(ibis.null(dt.timestamp), value)

    def _parse_one(self, fmt: str, text: ir.StringValue) -> ir.TimestampValue:
        if fmt in ("epoch_s", "epoch_ms"):
            number = text.try_cast(dt.float64)
            scale = 1_000_000 if fmt == "epoch_s" else 1_000
            ok = text.re_search(r"^\d+(\.\d+)?$")
            fits = number.abs() < 9e18 / scale  # 20101201082600 is no epoch: null, not an error
            micros = (fits.ifelse(number, 0.0) * scale).round().cast(dt.int64)
            return (ok & fits).ifelse(make_timestamp(micros), None)
        if fmt == "iso_tz":
            return text.try_cast(UTC_TS).cast(dt.timestamp)
        local = text.try_cast(dt.timestamp) if fmt == "iso" else try_strptime(text, fmt)
        if self.timezone == "UTC":
            return local
        return local_to_utc(self.timezone, local).cast(dt.timestamp)


def detect_timestamp_format(
    sample: list[str], *, column: str, source: str, timezone: str
) -> TimestampFormat:
    """The format of :data:`TS_FORMATS` that reads most values of ``sample`` (first on ties),
    and the other formats that read the values it does not, most first.

    Values no format reads are rejected later, each with its reason; a column that no format
    reads at all raises :class:`SourceError` with an example value.
    """
    values = [v.strip() for v in sample if v and v.strip()]
    if not values:
        return TimestampFormat("iso", timezone)
    probe = ibis.memtable({"v": values})
    candidates = [TimestampFormat(f, timezone) for f in TS_FORMATS]
    table = probe.select(
        **{f"f{i}": c.parse(probe.v).notnull() for i, c in enumerate(candidates)}
    ).to_pyarrow()
    reads = {
        cand.format: {k for k, ok in enumerate(table.column(f"f{i}").to_pylist()) if ok}
        for i, cand in enumerate(candidates)
        if not (cand.format.startswith("epoch") and not _plausible_epoch(values, cand.format))
    }
    chosen: list[str] = []
    covered: set[int] = set()
    while len(chosen) < _MAX_FORMATS:
        gains = {f: len(read - covered) for f, read in reads.items() if f not in chosen}
        best = max(gains, key=lambda f: gains[f], default=None)  # first on ties
        if best is None or gains[best] == 0:
            break
        chosen.append(best)
        covered |= reads[best]
    if chosen:
        return TimestampFormat(chosen[0], timezone, tuple(chosen[1:]))
    raise SourceError(
        f"{source}: column {column!r} holds timestamps in no format Portrait knows "
        f"(for example {values[0]!r}); pass --ts-format, e.g. --ts-format '%Y-%m-%d %H:%M'."
    )


#: formats one column may mix (ISO, a local form, a Chinese form, ...)
_MAX_FORMATS = 4


def _swapped_pairs(formats: tuple[str, ...]) -> list[tuple[str, str]]:
    """Pairs of ``formats`` that differ only in the order of day and month."""
    swap = {f: f.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m") for f in formats}
    return [(a, b) for i, a in enumerate(formats) for b in formats[i + 1 :] if swap[a] == b]


def _plausible_epoch(values: list[str], fmt: str) -> bool:
    """Digits are epoch seconds only if they land between 1990 and 2100 (not 20240301)."""
    low, high = (631_152_000, 4_102_444_800)
    scale = 1 if fmt == "epoch_s" else 1000
    numbers = []
    for v in values:
        try:
            numbers.append(float(v) / scale)
        except ValueError:
            continue
    return bool(numbers) and all(low <= n <= high for n in numbers)
