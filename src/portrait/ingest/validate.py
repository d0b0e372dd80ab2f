"""Typing and validating a staged source against a canonical table, in one expression.

For every canonical column this builds the typed value and the reasons it may fail
(missing, unparseable, out of range, not in the vocabulary); a row's ``_reason`` joins all
of them, so a rejected row says everything that is wrong with it at once. Rows with no
reason are accepted. Nothing here executes: the caller materialises the result in one
pass over the source.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait import schema
from portrait.ingest import parse
from portrait.ingest.mapping import VALUE_SYNONYMS, Spec
from portrait.privacy import pseudonymise

_KIND_WORDS = {
    "decimal": "a number",
    "float": "a number",
    "integer": "a whole number",
    "timestamp": "a date/time",
    "boolean": "true or false",
}
#: a failing condition and the message that says so
Reason = tuple[ir.BooleanValue, ir.StringValue]
#: timestamps outside this range are typos or placeholder dates, not events
EARLIEST = datetime(1990, 1, 1)


@dataclass(frozen=True)
class Target:
    """A canonical column to fill: in the primary table, or in one the spec derives."""

    table: str
    column: schema.Column

    @property
    def field(self) -> str:
        """The column's name in the typed staging table (``orders__ts`` for derived ones)."""
        return self.column.name if self.table == "" else f"{self.table}__{self.column.name}"

    @property
    def label(self) -> str:
        return self.column.name if self.table == "" else f"{self.table}.{self.column.name}"


def targets(spec: Spec) -> list[Target]:
    """Columns of the spec's table, then the derived tables' columns it names."""
    primary = schema.table(spec.table)
    out = [Target("", c) for c in primary.columns]
    for name in spec.extras:
        table, _, column = name.partition(".")
        if not column:
            raise ValueError(f"extra {name!r} must be written table.column")
        out.append(Target(table, schema.table(table).column(column)))
    return out


def source_text(raw: ir.Table, source: object) -> ir.StringValue:
    value = raw[source] if isinstance(source, str) else source(raw)  # type: ignore[operator]
    return value.cast(dt.string)


def _normalise_vocabulary(
    text: ir.StringValue, column: str, spec: Spec, vocabulary: tuple[str, ...]
) -> ir.StringValue:
    """Lower-case, then map synonyms (``pv`` -> ``view``, ``交易成功`` -> ``completed``).

    Values already in the vocabulary skip the synonym lookup, a long CASE.
    """
    synonyms = {**VALUE_SYNONYMS.get(column, {}), **spec.values.get(column, {})}
    low = text.lower()
    mapping = {k.lower(): v for k, v in synonyms.items()}
    if not mapping:
        return low
    return low.isin(vocabulary).ifelse(low, low.substitute(mapping, else_=low))


def _quoted(label: str, text: ir.StringValue, tail: str) -> ir.StringValue:
    return ibis.literal(f"{label} '") + text.substr(0, 80) + ibis.literal(f"' {tail}")


def typed_table(
    raw: ir.Table,
    source_columns: list[str],
    spec: Spec,
    *,
    ts_formats: Mapping[str, parse.TimestampFormat],
    pii_key: str,
    now: datetime,
) -> ir.Table:
    """The staged source typed: ``_row``, every target field, ``_reason`` and ``_raw``.

    Built in layers (text, then typed values, then reasons), each a projection of the one
    before, so that no expression is written out more than once in the compiled query: the
    nested form repeats each cleaning expression in every reason that reads it.
    """
    sources = {**spec.columns, **spec.extras}
    texts: dict[str, ir.StringValue] = {}
    cols: dict[str, tuple[Target, schema.Column]] = {}
    for tgt in targets(spec):
        col = tgt.column
        key = tgt.label if tgt.table else col.name
        if key in sources:
            text = parse.clean_text(source_text(raw, sources[key]), free_text=col.kind == "string")
        elif col.name in spec.constants and not tgt.table:
            text = ibis.literal(str(spec.constants[col.name]), dt.string)
        else:
            continue
        if col.vocabulary:
            text = _normalise_vocabulary(text, col.name, spec, col.vocabulary)
        elif not tgt.table and col.name in spec.values:  # a translation, say of categories
            text = text.substitute(dict(spec.values[col.name]), else_=text)
        texts[f"_t_{tgt.field}"] = text
        cols[tgt.field] = (tgt, col)
    checks = {f"_c{i}": predicate(raw) for i, (predicate, _) in enumerate(spec.checks)}
    carried = {f"_s{i}": raw[c] for i, c in enumerate(source_columns)}
    row = {"_row": raw._row} if "_row" in raw.columns else {}
    if spec.alias is not None:  # another id of the person: linked in ``identities``
        texts["_alias"] = parse.clean_text(source_text(raw, spec.alias), free_text=False)
    t1 = raw.select(**row, **carried, **texts, **checks)

    values = {}
    for field, (_, col) in cols.items():
        value = _parse(t1[f"_t_{field}"], col, ts_formats.get(field))
        values[field] = pseudonymise(value, col.name, pii_key) if col.pii else value
    t2 = t1.mutate(**values)

    reasons: list[Reason] = []
    for field, (tgt, col) in cols.items():
        ts = ts_formats.get(field)
        reasons.extend(_reasons(tgt.label, col, t2[f"_t_{field}"], t2[field], now, ts=ts))
    reasons.extend(table_reasons(spec, {f: t2[f] for f in cols}))
    for i, (_, why) in enumerate(spec.checks):
        reasons.append((t2[f"_c{i}"], ibis.literal(why)))
    t3 = t2.mutate(_reason=join_reasons(reasons))
    # the raw values, as JSON, only for the rejected rows: CASE evaluates them for no others;
    # PII stays pseudonymised in rejects too
    pii = {
        sources[tgt.label if tgt.table else tgt.column.name]: tgt.column.name
        for tgt, col in cols.values()
        if col.pii and isinstance(sources.get(tgt.label if tgt.table else col.name), str)
    }
    raw_json = ibis.struct(
        {
            c: pseudonymise(t3[f"_s{i}"], pii[c], pii_key) if c in pii else t3[f"_s{i}"]
            for i, c in enumerate(source_columns)
        }
    )
    raw_json = raw_json.cast(dt.json).cast(dt.string)
    return t3.select(
        *row,
        *cols,
        *(["_alias"] if spec.alias is not None else []),
        "_reason",
        _raw=t3._reason.notnull().ifelse(raw_json, ibis.null(dt.string)),
    )


def _parse(text: ir.StringValue, col: schema.Column, ts: parse.TimestampFormat | None) -> ir.Value:
    kind = col.kind
    if kind == "id":
        return parse.parse_id(text)
    if kind == "string":
        return text
    if kind == "decimal":
        return parse.parse_decimal(text)
    if kind == "float":
        return parse.parse_float(text)
    if kind == "integer":
        return parse.parse_integer(text)
    if kind == "boolean":
        return parse.parse_boolean(text)
    if kind == "timestamp":
        assert ts is not None, f"no timestamp format for {col.name}"
        return ts.parse(text)
    raise AssertionError(kind)


def _reasons(
    label: str,
    col: schema.Column,
    text: ir.StringValue,
    value: ir.Value,
    now: datetime,
    *,
    ts: parse.TimestampFormat | None = None,
) -> list[Reason]:
    out: list[Reason] = []
    if col.required:
        out.append((text.isnull(), ibis.literal(f"{label} is missing")))
    if col.kind in _KIND_WORDS:
        bad = text.notnull() & value.isnull()
        tail = f"is not {_KIND_WORDS[col.kind]}"
        if ts is not None and ts.also:  # a column of mixed formats
            tail = (
                f"is in none of the column's formats ({', '.join(ts.formats)}) or reads as "
                "two different dates in them; pass --ts-format to say which"
            )
        out.append((bad, _quoted(label, text, tail)))
    if col.kind == "timestamp":
        late = now + timedelta(days=2)
        odd = (value < EARLIEST) | (value > late)
        out.append((odd, _quoted(label, text, "is before 1990 or in the future")))
    if col.minimum is not None:
        low = value <= col.minimum if col.exclusive_minimum else value < col.minimum
        word = "above" if col.exclusive_minimum else "at least"
        out.append((low, _quoted(label, text, f"is not {word} {col.minimum:g}")))
    if col.maximum is not None:
        out.append((value > col.maximum, _quoted(label, text, f"is above {col.maximum:g}")))
    if col.vocabulary:
        allowed = ", ".join(col.vocabulary)
        bad = value.notnull() & ~value.isin(col.vocabulary)
        out.append((bad, _quoted(label, text, f"is not one of {allowed}")))
    return out


def table_reasons(spec: Spec, values: Mapping[str, ir.Value]) -> list[Reason]:
    """Rules across columns of one row."""
    out: list[Reason] = []
    if spec.table == "reviews":
        empty = values.get("text", ibis.null(dt.string)).isnull()
        empty &= values.get("rating", ibis.null(dt.int64)).isnull()
        out.append((empty, ibis.literal("the review has neither a text nor a rating")))
    return out


def join_reasons(reasons: list[Reason]) -> ir.StringValue:
    """All reasons of a row, ``; ``-separated; null when there are none.

    The conditions are evaluated for every row, the messages only for the rows that fail
    one (CASE evaluates its branch for the selected rows alone): on a clean file of ten
    million rows, building twenty messages per row would cost more than the checks.
    """
    if not reasons:
        return ibis.null(dt.string)
    bad = functools.reduce(operator.or_, [cond.fill_null(False) for cond, _ in reasons])
    joined = ibis.literal("; ").join([cond.ifelse(msg, None) for cond, msg in reasons])
    return bad.ifelse(joined, ibis.null(dt.string))
