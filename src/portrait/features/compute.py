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
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from portrait import history, schema
from portrait.asof import AsOf, parse_as_of
from portrait.engine import Engine
from portrait.errors import ConfigError
from portrait.facts import Note
from portrait.features import definitions  # noqa: F401 - registers the features
from portrait.features._registry import BLOCKS, FEATURES, Feature
from portrait.history import Need
from portrait.labels import Label, label
from portrait.schema import OUTPUTS
from portrait.stages import Stage, StageParams, StageResult

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from portrait.workspace import Workspace


@dataclass
class FeatureSet:
    """The features of every customer as of a date, as an (unexecuted) Ibis table."""

    table: ir.Table
    as_of: AsOf
    #: feature name -> what the shop's data lacks for it (a ``missing_data`` label code)
    missing: dict[str, Need] = field(default_factory=dict)
    #: which source purchases came from: "orders" or "order events"
    purchases_from: str = "orders"


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
    ctx = AsOf(day, ws.config.shop.timezone, engine=Engine.of(con))
    tables = history.tables(con)
    counts = history.probe(tables)
    have = history.available(counts)
    wanted = _select(names)
    missing = {
        f.name: next(n for n in f.needs if not have[n])
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
                "purchases": lambda: history.orders(tables, ctx, counts),
                "lines": lambda: history.lines(tables, ctx, counts),
                "events": lambda: history.events(tables, ctx),
                "carts": lambda: history.carts(tables, ctx, counts),
                "activity": lambda: history.activity(tables, ctx, counts),
                "reviews": lambda: history.reviews(tables, ctx),
                "first_seen": lambda: history.first_seen(tables, ctx, counts),
            }[name]()
        return built[name]

    parts: list[ir.Table] = []
    by_source: dict[str, list[Feature]] = {}
    for f in computed:
        if f.agg is not None:
            by_source.setdefault(f.source, []).append(f)
    for src, feats in by_source.items():
        t = source(src)
        parts.append(
            t.group_by("user_id").aggregate(**{f.name: cast(Any, f.agg)(t, ctx) for f in feats})
        )
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
    purchases_from = "orders" if history.uses_orders(counts) else "order events"
    return FeatureSet(table, ctx, missing, purchases_from)


def _derive_inputs(f: Feature) -> set[str]:
    """The features a derived feature reads, found by applying it to a stand-in table."""
    stand_in = ibis.table({n: g.ibis_type for n, g in FEATURES.items()}, name="features")
    assert f.derive is not None
    return {op.name for op in f.derive(stand_in).op().find(ops.Field)}


def build_features(ws: Workspace, as_of: date, params: StageParams) -> StageResult:
    """The features stage: every feature into ``features``, the empty ones into
    ``feature_gaps`` with what the data lacks."""
    fs = compute_features(ws, as_of, engine=params.engine)
    # on Spark, Spark writes it (the warehouse gets a view): no customer passes the driver
    ws.replace_table("features", fs.table)
    gaps = [
        {"feature": name, "need": need, "reason": label("missing_data", need).en}  # type: ignore[union-attr]
        for name, need in fs.missing.items()
    ]
    ws.replace_table(
        "feature_gaps", pa.Table.from_pylist(gaps, schema=OUTPUTS["feature_gaps"].arrow_schema())
    )
    notes = [Note.of("empty_features", count=len(gaps))] if gaps else []
    notes += _one_order_ids(ws, fs.as_of.engine) + _amounts_against_lines(ws)
    return StageResult(rows=ws.count("features"), notes=notes,
                       chosen={"purchases_from": fs.purchases_from})  # fmt: skip


#: above this share of buyers with one order each, the ids are likely per order, not per person
ONE_ORDER_SHARE = 0.95


def _one_order_ids(ws: Workspace, engine: Engine = Engine.DUCKDB) -> list[Note]:
    """A note when nearly every buyer has exactly one order and no identity map links ids:
    the ids are probably per-order customer ids (marketplace exports), not people."""
    f = ws.output("features", engine)
    row = f.aggregate(
        buyers=(f.frequency > 0).sum(), once=(f.frequency == 1).sum()
    ).to_pyarrow().to_pylist()[0]  # fmt: skip
    buyers, once = int(row["buyers"] or 0), int(row["once"] or 0)
    if buyers < 100 or once < ONE_ORDER_SHARE * buyers or ws.count("identities"):
        return []
    return [Note.of("one_order_ids", buyers=buyers, share=once / buyers)]


def _amounts_against_lines(ws: Workspace) -> list[Note]:
    """A note when orders' amounts disagree with their lines beyond rounding."""
    tables = history.tables(ws.con)
    if not ws.count("order_items"):
        return []
    off = history.amount_disagreements(tables)
    row = off.aggregate(n=off.count(), gap=off.gap.abs().sum()).to_pyarrow().to_pylist()[0]
    if not row["n"]:
        return []
    checked = int(tables["orders"].filter(ibis._.amount.notnull()).count().execute())
    return [Note.of("amount_disagrees", orders=int(row["n"]), checked=checked,
                    gap=float(row["gap"] or 0.0), currency=ws.config.shop.currency)]  # fmt: skip


def feature_gaps(ws: Workspace) -> dict[str, Need]:
    """Features the last build found empty for this shop's data, with what the data lacks."""
    if "feature_gaps" not in ws.con.list_tables():
        return {}
    rows = ws.table("feature_gaps").to_pyarrow().to_pylist()
    return {r["feature"]: r["need"] for r in rows}


STAGE = Stage(
    name="features",
    label=Label(en="features", zh="特征"),
    reads=tuple(schema.TABLES),
    writes=("features", "feature_gaps"),
    config=(),
    run=build_features,
)
