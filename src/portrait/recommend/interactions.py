"""Who interacted with what, and how strongly: the input of every recommender.

Interactions come from purchases (order lines, or order events with an item), behaviour
events (view, favourite, cart) and reviews, each with a configurable weight (buy > cart >
fav > view); a review's rating is kept for the explicit-rating models. The log is built by
one Ibis expression on the workspace's engine, cut at the as-of date like every feature, and
turned into a users x items sparse matrix with optional time decay (a half-life in days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from portrait import history
from portrait.asof import AsOf
from portrait.engine import Engine

if TYPE_CHECKING:
    from portrait.workspace import Workspace

#: default weight of each kind of interaction
WEIGHTS: dict[str, float] = {"buy": 4.0, "cart": 3.0, "fav": 2.0, "view": 1.0, "review": 1.0}


def interaction_log(
    ws: Workspace,
    as_of: str | date | None = None,
    *,
    weights: dict[str, float] | None = None,
    engine: str | None = None,
) -> pa.Table:
    """Every interaction of a known customer with a known item before ``as_of``.

    Columns: ``user_id``, ``item_id``, ``ts`` (UTC), ``kind`` (buy, cart, fav, view, review),
    ``weight`` and ``rating`` (reviews only). Kinds whose weight is 0 are left out.
    """
    expr = interaction_table(ws, as_of, weights=weights, engine=engine)
    return _EMPTY.empty_table() if expr is None else expr.to_pyarrow().cast(_EMPTY)


def interaction_table(
    ws: Workspace,
    as_of: str | date | None = None,
    *,
    weights: dict[str, float] | None = None,
    engine: str | Engine | None = None,
) -> ir.Table | None:
    """:func:`interaction_log` as a query on the engine, not yet run (None when no kind of
    interaction has a positive weight): Spark keeps it on the cluster."""
    from portrait.asof import parse_as_of

    w = {**WEIGHTS, **(weights or {})}
    con = ws.engine(engine)
    ctx = AsOf(parse_as_of(as_of, ws), ws.config.shop.timezone, engine=Engine.of(con))
    tables = history.tables(con)
    counts = history.probe(tables)
    parts = []

    def part(t: ir.Table, kind: str, rating: Any = None) -> None:
        if w.get(kind, 0) <= 0:
            return
        parts.append(t.select(
            user_id=t.user_id.cast(dt.string), item_id=t.item_id.cast(dt.string), ts=t.ts,
            kind=ibis.literal(kind), weight=ibis.literal(float(w[kind])),
            rating=ibis.null(dt.float64) if rating is None else rating.cast(dt.float64),
        ))  # fmt: skip

    lines = history.lines(tables, ctx, counts)
    part(lines.filter(lines.item_id.notnull()), "buy")
    e = history.events(tables, ctx)
    for kind in ("view", "fav", "cart"):
        part(e.filter(e.event_type == kind, e.user_id.notnull(), e.item_id.notnull()), kind)
    r = history.reviews(tables, ctx)
    r = r.filter(r.item_id.notnull())
    part(r, "review", r.rating)
    if not parts:
        return None
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


_EMPTY = pa.schema(
    [("user_id", pa.string()), ("item_id", pa.string()), ("ts", pa.timestamp("us")),
     ("kind", pa.string()), ("weight", pa.float64()), ("rating", pa.float64())]
)  # fmt: skip


@dataclass
class Interactions:
    """A users x items matrix with the ids of its rows and columns."""

    matrix: sp.csr_matrix
    users: np.ndarray
    items: np.ndarray

    def user_index(self, ids: Any) -> np.ndarray:
        """Row of each id; -1 for an id the matrix does not have."""
        return _index(self.users, ids)

    def item_index(self, ids: Any) -> np.ndarray:
        return _index(self.items, ids)

    def rows(self, log: pa.Table) -> sp.csr_matrix:
        """Another log (a test period, say) as a matrix on the same users and items;
        interactions with unknown users or items are left out."""
        return to_matrix(log, self.users, self.items)


def _index(universe: np.ndarray, ids: Any) -> np.ndarray:
    """Position of each id in ``universe`` (-1 where absent), computed in Arrow: a log's
    ten or a hundred million ids never become Python strings."""
    if not isinstance(ids, pa.Array | pa.ChunkedArray):
        ids = pa.array(np.asarray(ids, dtype=object), pa.string())
    idx = pc.index_in(ids.cast(pa.string()), value_set=pa.array(universe, pa.string()))
    return cast(np.ndarray, idx.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64))


def _sorted_ids(column: pa.ChunkedArray) -> np.ndarray:
    """The distinct ids of a column, sorted (Arrow's order of UTF-8 bytes is NumPy's order
    of code points)."""
    distinct = pc.unique(column.cast(pa.string()))
    distinct = distinct.filter(pc.is_valid(distinct))
    return np.asarray(distinct.take(pc.sort_indices(distinct)).to_numpy(zero_copy_only=False),
                      dtype=str)  # fmt: skip


def to_matrix(
    log: pa.Table,
    users: np.ndarray,
    items: np.ndarray,
    *,
    value: str = "weight",
    half_life_days: float | None = None,
    as_of: datetime | None = None,
) -> sp.csr_matrix:
    """Sum the ``value`` of each (user, item) into a matrix on ``users`` x ``items``.

    With ``half_life_days``, an interaction ``d`` days before ``as_of`` counts
    ``0.5 ** (d / half_life_days)``. With ``value="rating"`` each pair keeps its latest rating.
    """
    u = _index(users, log.column("user_id"))
    i = _index(items, log.column("item_id"))
    v = log.column(value).to_numpy(zero_copy_only=False).astype(np.float64)
    keep = (u >= 0) & (i >= 0) & ~np.isnan(v)
    if half_life_days and value == "weight":
        ts = log.column("ts").cast(pa.int64()).to_numpy(zero_copy_only=False) / 86_400e6
        end = (as_of.timestamp() / 86_400) if as_of else ts.max(initial=0)
        v = v * 0.5 ** (np.maximum(end - ts, 0) / half_life_days)
    u, i, v = u[keep], i[keep], v[keep]
    shape = (len(users), len(items))
    if value == "rating":
        ts = log.column("ts").cast(pa.int64()).to_numpy(zero_copy_only=False)[keep]
        order = np.lexsort((ts, i, u))[::-1]  # latest first within each pair
        pair = u[order] * len(items) + i[order]
        _, first = np.unique(pair, return_index=True)
        pick = order[first]
        u, i, v = u[pick], i[pick], v[pick]
    return sp.csr_matrix((v.astype(np.float32), (u, i)), shape=shape)


def interactions(log: pa.Table, **kwargs: Any) -> Interactions:
    """The log as a matrix over its own users and items (sorted ids)."""
    users, items = _sorted_ids(log.column("user_id")), _sorted_ids(log.column("item_id"))
    return Interactions(to_matrix(log, users, items, **kwargs), users, items)
