"""Assemble the registered features into one table: one row per customer, as of a date.

Each source is aggregated once per customer with all of its simple features in the same
``GROUP BY``; blocks add the features that need two levels of aggregation; derived features
are computed over the joined row. The result is one Ibis expression on the chosen engine;
:func:`build_features` materialises it as the warehouse table ``features``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from portrait import schema
from portrait.errors import ConfigError
from portrait.features import _sources, definitions  # noqa: F401 - registers the features
from portrait.features._context import AsOf
from portrait.features._registry import BLOCKS, FEATURES, Feature

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from portrait.workspace import Workspace


@dataclass
class FeatureSet:
    """The features of every customer as of a date, as an (unexecuted) Ibis table."""

    table: ir.Table
    as_of: AsOf
    #: feature name -> why it is null for this shop
    missing: dict[str, str] = field(default_factory=dict)
    #: which source purchases came from: "orders" or "order events"
    purchases_from: str = "orders"


def default_as_of(ws: Workspace) -> date:
    """The day after the last activity in the warehouse, in the shop's time zone.

    Shops analyse historical exports; "today" would make every customer of a 2011 export
    look long gone, so the default is the day the data ends.
    """
    from zoneinfo import ZoneInfo

    last = None
    for name in ("orders", "events", "reviews"):
        t = ws.table(name)
        value = t.ts.max().execute()
        if value is not None and value == value and (last is None or value > last):
            last = value
    if last is None:
        raise ConfigError(
            "The workspace has no dated orders, events or reviews yet; ingest some first "
            "(portrait ingest FILE), or give --as-of YYYY-MM-DD."
        )
    local = last.tz_localize("UTC").tz_convert(ZoneInfo(ws.config.shop.timezone))
    return local.date() + timedelta(days=1)


def parse_as_of(value: str | date | None, ws: Workspace) -> date:
    if value is None:
        return default_as_of(ws)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--as-of {value!r} is not a date; write it as YYYY-MM-DD.") from None


def _select(names: Iterable[str] | None) -> list[Feature]:
    if names is None:
        return list(FEATURES.values())
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ConfigError(
            f"Unknown feature {unknown[0]!r}; `portrait tags` lists the features there are."
        )
    wanted = set(names)
    return [f for f in FEATURES.values() if f.name in wanted]


def compute_features(
    ws: Workspace,
    as_of: str | date | None = None,
    *,
    engine: str | None = None,
    names: Iterable[str] | None = None,
) -> FeatureSet:
    """Every customer's features as of a local date, from data strictly before it.

    Parameters
    ----------
    ws
        The workspace.
    as_of
        A date (``YYYY-MM-DD``); default: the day after the last activity in the data.
    engine
        ``"duckdb"`` or ``"spark"``; default: the workspace's configured engine.
    names
        Only these features (default all).
    """
    day = parse_as_of(as_of, ws)
    con = ws.engine(engine)
    ctx = AsOf(day, ws.config.shop.timezone, backend=con.name)
    tables = {name: con.table(name) for name in schema.TABLES}
    counts = _sources.probe(tables)
    have = _sources.available(counts)
    wanted = _select(names)
    missing = {
        f.name: next(_sources.REASONS[n] for n in f.needs if not have[n])
        for f in wanted
        if not all(have[n] for n in f.needs)
    }
    live = [f for f in wanted if f.name not in missing]
    # derived features need their inputs even when not asked for
    needed = {f.name for f in live}
    for f in live:
        if f.derive is not None:
            needed |= _derive_inputs(f)
    computed = [f for f in FEATURES.values() if f.name in needed and f.name not in missing]

    built: dict[str, ir.Table] = {}

    def source(name: str) -> ir.Table:
        if name not in built:
            built[name] = {
                "purchases": lambda: _sources.orders(tables, ctx, counts),
                "lines": lambda: _sources.lines(tables, ctx, counts),
                "events": lambda: _sources.events(tables, ctx),
                "carts": lambda: _sources.carts(tables, ctx, counts),
                "activity": lambda: _sources.activity(tables, ctx, counts),
                "reviews": lambda: _sources.reviews(tables, ctx),
                "first_seen": lambda: _sources.first_seen(tables, ctx, counts),
            }[name]()
        return built[name]

    parts: list[ir.Table] = []
    by_source: dict[str, list[Feature]] = {}
    for f in computed:
        if f.agg is not None:
            by_source.setdefault(f.source, []).append(f)
    for src, feats in by_source.items():
        t = source(src)
        parts.append(t.group_by("user_id").aggregate(**{f.name: f.agg(t, ctx) for f in feats}))
    for name in dict.fromkeys(f.block for f in computed if f.block):
        src, fn = BLOCKS[name]
        parts.append(fn(source(src), ctx))

    universe = source("first_seen").select("user_id")
    joined = universe
    for i, part in enumerate(parts):
        key = f"_k{i}"
        part = part.rename({key: "user_id"})
        joined = joined.left_join(part, joined.user_id == part[key])
    joined = joined.select(~ibis.selectors.startswith("_k"))
    derived = {f.name: f.derive(joined) for f in computed if f.derive is not None}
    if derived:
        joined = joined.mutate(**derived)
    columns: dict[str, Any] = {"user_id": joined.user_id}
    for f in wanted:
        if f.name in missing:
            columns[f.name] = ibis.null(f.ibis_type)
        else:
            value = joined[f.name].cast(f.ibis_type)
            columns[f.name] = value if f.default is None else value.fill_null(f.default)
    table = joined.select(**columns)
    purchases_from = "orders" if _sources.uses_orders(counts) else "order events"
    return FeatureSet(table, ctx, missing, purchases_from)


def _derive_inputs(f: Feature) -> set[str]:
    """The features a derived feature reads, found by applying it to a stand-in table."""
    stand_in = ibis.table({n: g.ibis_type for n, g in FEATURES.items()}, name="features")
    return {op.name for op in f.derive(stand_in).op().find(ops.Field)}


def build_features(
    ws: Workspace, as_of: str | date | None = None, *, engine: str | None = None
) -> FeatureSet:
    """Compute every feature and store them in the warehouse table ``features``."""
    fs = compute_features(ws, as_of, engine=engine)
    if fs.as_of.backend == "duckdb":
        ws.replace_table("features", fs.table)
    else:
        ws.replace_table("features", fs.table.to_pyarrow())
    return fs
