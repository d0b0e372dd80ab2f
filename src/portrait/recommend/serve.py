"""The recommend stage: top-N per customer, with business filters, cold start and reasons.

After ``portrait build`` the table ``recommendations`` holds, for every known customer,
``recommend.n`` items best first with a one-line reason in English and Chinese:

- customers with a history get the configured model's ranking, minus what they already
  bought (or rated, in a shop without purchases), products that are not merchandise
  (postage, fees) and products out of stock; each item's reason names the product of theirs
  the model ties to it most ("like X, which you bought");
- customers without a history (registered, or only known from the features) get what is
  popular in their behavioural cluster, or in the whole shop in its last 30 days;
- a list the model could not fill (everything else filtered out) is topped up the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, cast

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from portrait.asof import utc_of_local_midnight
from portrait.engine import Engine
from portrait.errors import NotFoundError
from portrait.facts import Fact, Note
from portrait.history import person_of
from portrait.labels import LABELS, Label
from portrait.recommend.interactions import (
    Interactions,
    interaction_log,
    interactions,
    to_matrix,
)
from portrait.recommend.models import make_model
from portrait.recommend.popularity import Popularity
from portrait.schema import OUTPUTS
from portrait.stages import Stage, StageParams, StageResult

if TYPE_CHECKING:
    from portrait.workspace import Workspace

log = logging.getLogger(__name__)

_ANCHORS = 10  # a customer's products considered when explaining a recommendation
_NEW_PER_CUSTOMER = 1  # new products (no interactions yet) at the end of a list, at most
#: a new product is placed under a known one this similar, but not a near-twin of it (the
#: same product under another code is not news)
_NEW_SIMILARITY = (0.5, 0.95)
_RECENT_DAYS = 30
#: customers whose lists are made and written at once
_WRITE_BATCH = 500_000


@dataclass
class RecommendResult:
    customers: int
    model: str
    items: int
    #: customers served by the model, by their segment, by the shop's recent best sellers
    sources: dict[str, int] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)


def _blocked(ws: Workspace, items: np.ndarray) -> np.ndarray:
    """Indices of items that are not merchandise or are out of stock."""
    t = ws.table("items")
    bad = t.filter((t.is_merchandise == False) | (t.in_stock == False))  # noqa: E712
    ids = bad.select("item_id").to_pyarrow().column("item_id")
    return np.flatnonzero(pc.is_in(pa.array(items), value_set=ids).to_numpy(zero_copy_only=False))


def _own_items(rows: sp.csr_matrix, k: int) -> np.ndarray:
    """Each row's ``k`` heaviest items (-1 where it has fewer)."""
    counts = np.diff(rows.indptr)
    row_of = np.repeat(np.arange(rows.shape[0]), counts)
    order = np.lexsort((-rows.data, row_of))
    rank = np.arange(len(order)) - np.repeat(rows.indptr[:-1], counts)
    keep = rank < k
    out = np.full((rows.shape[0], k), -1, dtype=np.int64)
    out[row_of[order][keep], rank[keep]] = rows.indices[order][keep]
    return out


def _anchors(
    model: Any, matrix: sp.csr_matrix, recs: np.ndarray, blocked: np.ndarray
) -> np.ndarray:
    """For each recommended item, the customer's own item the model ties to it most
    (:meth:`Recommender.item_affinity`); -1 where none is tied to it. Postage and other
    non-products never explain anything."""
    anchor = np.full(recs.shape, -1, dtype=np.int64)
    if len(blocked):
        keep = np.ones(matrix.shape[1])
        keep[blocked] = 0
        matrix = sp.csr_matrix(matrix @ sp.diags(keep))
        matrix.eliminate_zeros()
    batch = max(1, 500_000 // max(recs.shape[1] * _ANCHORS, 1))
    for lo in range(0, len(recs), batch):
        rec = recs[lo : lo + batch]
        own = _own_items(matrix[lo : lo + batch], _ANCHORS)
        strength = model.affinity_grid(rec, own)
        best = strength.argmax(axis=2)
        got = np.take_along_axis(strength, best[:, :, None], axis=2)[:, :, 0]
        chosen = np.take_along_axis(own, best, axis=1)
        anchor[lo : lo + batch] = np.where(got > 0, chosen, -1)
    return anchor


def build_recommendations(
    ws: Workspace, as_of: date, *, engine: str | Engine | None = None
) -> RecommendResult:
    """Fit the configured model on interactions before ``as_of`` and write
    ``recommendations`` (user_id, rank, item_id, score, reason code, the customer's item
    that explains it, source)."""
    cfg = ws.config.recommend
    cutoff = utc_of_local_midnight(as_of, ws.config.shop.timezone)
    events = interaction_log(ws, as_of, weights=cast(dict[str, float], cfg.weights), engine=engine)
    known = ws.table("features").select("user_id").to_pyarrow().column("user_id")
    result = RecommendResult(customers=len(known), model=cfg.model, items=0)
    if events.num_rows == 0:
        result.notes.append(Note.of("no_interactions"))
        ws.replace_table("recommendations", _SCHEMA.empty_table())
        return result
    data = interactions(events, half_life_days=cfg.half_life_days or None, as_of=cutoff)
    result.items = len(data.items)
    buys = events.filter(pc.equal(events.column("kind"), "buy"))
    exclude = to_matrix(buys if buys.num_rows else events, data.users, data.items)
    blocked = _blocked(ws, data.items)
    recent_pop = _recent_popularity(events, data, cutoff, blocked)
    # the log is a few GB at ten million customers: nothing below needs it
    del events, buys
    model = make_model(cfg.model, dict(cfg.params), seed=ws.config.segments.seed)
    model.fit(data.matrix)
    n = cfg.n
    users = np.arange(len(data.users))
    batch = max(1, 20_000_000 // max(len(data.items), 1))
    ids, scores = model.recommend(
        users, data.matrix, N=n, filter_items=blocked, exclude=exclude, batch_size=batch
    )
    fresh = _new_items(ws, data.items)
    clusters = _clusters(ws)
    cluster_pop = _cluster_popularity(data, clusters, blocked)
    cluster_of = [clusters.get(u, (None,))[0] for u in data.users]
    seen = set(data.users.tolist())
    prospects = [u for u in known.to_pylist() if u not in seen]
    fallback, served = _fallback_lists(prospects, n, clusters, cluster_pop, recent_pop,
                                       data.items)  # fmt: skip
    counts = {"model": 0, **served}

    def batches() -> Iterator[pa.RecordBatch]:
        """The lists a batch of customers at a time, into the warehouse as they are made:
        ten million customers' 200 million rows are never in memory at once."""
        for lo in range(0, len(data.users), _WRITE_BATCH):
            part = slice(lo, lo + _WRITE_BATCH)
            listed, filled = model_lists(
                model, data.matrix[part], exclude[part], ids[part], scores[part], blocked,
                data.users[part], data.items, fresh, cluster_of[part], cluster_pop, recent_pop,
                n,
            )  # fmt: skip
            counts["model"] += int((filled > 0).sum())
            for label in ("segment", "popular"):  # the model gave them nothing
                counts[label] += int(((filled == 0) & (listed.sources == label)).sum())
            yield from listed.table.to_batches()
        for table in fallback:
            yield from table.cast(_SCHEMA).to_batches()

    ws.replace_table("recommendations", pa.RecordBatchReader.from_batches(_SCHEMA, batches()))
    result.customers = len(seen) + len(prospects)
    result.sources = counts
    return result


@dataclass
class Listed:
    """The rows of a batch of customers' lists, and where each customer's list came from
    when the model gave them nothing (their segment's or the shop's best sellers)."""

    table: pa.Table
    sources: np.ndarray


def model_lists(
    model: Any, matrix: sp.csr_matrix, exclude: sp.csr_matrix, ids: np.ndarray,
    scores: np.ndarray, blocked: np.ndarray, users: np.ndarray, items: np.ndarray,
    fresh: tuple[np.ndarray, np.ndarray, np.ndarray], cluster_of: list[Any],
    cluster_pop: dict[int, np.ndarray], recent_pop: np.ndarray, n: int,
) -> tuple[Listed, np.ndarray]:  # fmt: skip
    """The ``recommendations`` rows of customers with a history, from the model's top-N
    (``ids``, ``scores``; one row per customer of ``users``): each item's reason and the
    customer's item behind it, a new product in the last place of a list that recommends a
    product it resembles, and lists the model could not fill topped up from the customer's
    cluster (``cluster_of``) or the shop's recent best sellers. The one way lists are made,
    on this machine and on Spark's executors. Returns the rows and, per customer, how many
    items the model filled."""
    ids = np.where(np.isfinite(scores), ids, -1)
    anchor = _anchors(model, matrix, ids, blocked)
    # new products nobody has bought yet take the last place of a list that recommends a
    # product they resemble
    fresh_of, fresh_sim, fresh_ids = fresh
    tied = np.where(ids >= 0, fresh_of[np.maximum(ids, 0)], -1)
    filled = (ids >= 0).sum(axis=1)
    has_new = (tied >= 0).any(axis=1) & (filled > 0)
    first = (tied >= 0).argmax(axis=1)
    slot = np.minimum(filled, n - 1)
    # the model's lists, flattened, with their reasons
    rows_u, rows_r = np.nonzero(ids >= 0)
    item, anc = ids[rows_u, rows_r], anchor[rows_u, rows_r]
    has_anchor = anc >= 0
    bought_anchor = np.zeros(len(anc), dtype=bool)
    bought_anchor[has_anchor] = (
        np.asarray(exclude[rows_u[has_anchor], anc[has_anchor]]).ravel() != 0
    )
    reason = pc.if_else(
        pa.array(bought_anchor), "bought_similar",
        pc.if_else(pa.array(has_anchor), "viewed_similar", "similar_customers"),
    )  # fmt: skip
    anchor_id = pc.if_else(
        pa.array(has_anchor), pc.take(pa.array(items), pa.array(np.where(has_anchor, anc, 0))),
        pa.scalar(None, pa.string()),
    )  # fmt: skip
    user_ids = pa.array(np.asarray(users, dtype=object), pa.string())
    model_part = pa.table({
        "user_id": pc.take(user_ids, pa.array(rows_u)),
        "rank": pa.array(rows_r + 1, pa.int64()),
        "item_id": pc.take(pa.array(items), pa.array(item)),
        "score": pa.array(scores[rows_u, rows_r], pa.float64()),
        "reason": reason,
        "anchor_item_id": anchor_id,
        "source": pa.array(np.full(len(item), "model", dtype=object), pa.string()),
    })  # fmt: skip
    # a new product takes the last place (replacing the model's last pick in a full list)
    new_u = np.flatnonzero(has_new)
    replaced = np.isin(rows_u * n + rows_r, new_u * n + slot[new_u])
    model_part = model_part.filter(pa.array(~replaced))
    resembles = ids[new_u, first[new_u]]
    new_part = pa.table({
        "user_id": pc.take(user_ids, pa.array(new_u)),
        "rank": pa.array(slot[new_u] + 1, pa.int64()),
        "item_id": pc.take(pa.array(fresh_ids, pa.string()),
                           pa.array(fresh_of[resembles])),
        "score": pa.array(fresh_sim[resembles], pa.float64()),
        "reason": pa.array(np.full(len(new_u), "new_similar", dtype=object), pa.string()),
        "anchor_item_id": pc.take(pa.array(items), pa.array(resembles)),
        "source": pa.array(np.full(len(new_u), "new_item", dtype=object), pa.string()),
    })  # fmt: skip
    # short lists (everything else filtered out) topped up
    rows: dict[str, list[Any]] = {k: [] for k in _SCHEMA.names}
    length = np.maximum(filled, np.where(has_new, slot + 1, 0))
    sources = np.full(len(ids), "model", dtype=object)
    for u in np.flatnonzero(length < n):
        have = set(ids[u][ids[u] >= 0].tolist()) | set(exclude[u].indices.tolist())
        c = cluster_of[u]
        sources[u] = _top_up(rows, str(users[u]), int(length[u]), n, have,
                             None if c is None else int(c), cluster_pop, recent_pop, items,
                             source="model" if filled[u] else "")  # fmt: skip
    table = pa.concat_tables([model_part, new_part, pa.table(rows, schema=_SCHEMA)])
    return Listed(table.cast(_SCHEMA), sources), filled


def _recent_popularity(
    events: pa.Table, data: Interactions, cutoff: Any, blocked: np.ndarray
) -> np.ndarray:
    """Customers per item in the shop's last 30 days (all the log if it has none so recent),
    blocked items at -1."""
    recent_from = cutoff - timedelta(days=_RECENT_DAYS)
    recent = events.filter(
        pc.greater_equal(events.column("ts"), pa.scalar(recent_from, pa.timestamp("us")))
    )
    if recent.num_rows == 0:
        recent = events
    recent_pop = np.asarray((to_matrix(recent, data.users, data.items) > 0).sum(axis=0))
    recent_pop = recent_pop.ravel().astype(np.float64)
    recent_pop[blocked] = -1
    return recent_pop


def _fallback_lists(
    users: list[str], n: int, clusters: dict[str, tuple[int, str, str]],
    cluster_pop: dict[int, np.ndarray], recent_pop: np.ndarray, items: np.ndarray,
) -> tuple[list[pa.Table], dict[str, int]]:  # fmt: skip
    """Lists for customers without a history: their cluster's best sellers, else the shop's
    recent ones; one list per cluster, repeated for its customers."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for uid in users:
        c = clusters.get(uid)
        key: tuple[Any, ...] = c if c is not None and c[0] in cluster_pop else ("popular",)
        groups.setdefault(key, []).append(uid)
    parts, served = [], {"segment": 0, "popular": 0}
    for key, members in groups.items():
        if key == ("popular",):
            pop, label, reason = recent_pop, "popular", "popular_now"
        else:
            pop, label, reason = cluster_pop[key[0]], "segment", "segment_popular"
        top = np.argsort(-pop, kind="stable")[:n]
        top = top[pop[top] > 0]
        m, k = len(members), len(top)
        served[label] += m
        parts.append(pa.table({
            "user_id": pa.array(np.repeat(np.array(members, dtype=object), k), pa.string()),
            "rank": pa.array(np.tile(np.arange(1, k + 1), m), pa.int64()),
            "item_id": pa.array(np.tile(items[top], m), pa.string()),
            "score": pa.array(np.tile(pop[top].astype(np.float64), m)),
            "reason": pa.array([reason] * (m * k), pa.string()),
            "anchor_item_id": pa.nulls(m * k, pa.string()),
            "source": pa.array([label] * (m * k), pa.string()),
        }))  # fmt: skip
    return parts, served


def _new_items(ws: Workspace, known: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Products nobody has interacted with yet, each under the known product it resembles.

    Similarity is the cosine of character 2-4-gram TF-IDF vectors of category and title
    (works for Chinese titles without a word segmenter); a new product goes under its most
    similar known product if the cosine is at least 0.5 and below 0.95 (a near-twin is the
    same product under another code, not news). Returns, per known item, the index of the
    new product most like it (-1 for none) and the similarity, and the new products' ids.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    none = (np.full(len(known), -1), np.zeros(len(known)), np.array([], dtype=object))
    t = ws.table("items")
    t = t.filter(t.is_merchandise.fill_null(True), t.in_stock.fill_null(True))
    table = t.select("item_id", "title", "category").to_pyarrow()
    ids = table.column("item_id").to_numpy(zero_copy_only=False).astype(str)
    text = (
        pc.binary_join_element_wise(
            table.column("category").fill_null(""), table.column("title").fill_null(""), " "
        )
        .to_numpy(zero_copy_only=False)
        .astype(str)
    )
    is_known = np.isin(ids, known)
    if is_known.all() or not is_known.any() or not "".join(text[~is_known]).strip():
        return none
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit_transform(
        np.r_[text[is_known], text[~is_known]]
    )
    n_known = int(is_known.sum())
    sims = (vectors[n_known:] @ vectors[:n_known].T).tocsr()
    best = np.asarray(sims.argmax(axis=1)).ravel()
    sim = np.asarray(sims.max(axis=1).todense()).ravel()
    ok = (sim >= _NEW_SIMILARITY[0]) & (sim < _NEW_SIMILARITY[1])
    position = pc.index_in(pa.array(ids[is_known][best[ok]]), value_set=pa.array(known))
    target = position.to_numpy(zero_copy_only=False).astype(np.int64)
    fresh_of, fresh_sim = np.full(len(known), -1), np.zeros(len(known))
    order = np.argsort(sim[ok], kind="stable")  # the most similar new product wins
    fresh_of[target[order]] = np.flatnonzero(ok)[order]
    fresh_sim[target[order]] = sim[ok][order]
    return fresh_of, fresh_sim, ids[~is_known]


def _add(rows: dict[str, list[Any]], uid: str, rank: int, item: str, score: float,
         reason: str, source: str) -> None:  # fmt: skip
    values = (uid, rank, item, score, reason, None, source)
    for key, value in zip(_SCHEMA.names, values, strict=True):
        rows[key].append(value)


def _top_up(
    rows: dict[str, list[Any]], uid: str, start: int, n: int, have: set[int],
    cluster: int | None, cluster_pop: dict[int, np.ndarray], recent_pop: np.ndarray,
    items: np.ndarray, source: str,
) -> str:  # fmt: skip
    """Fill a list up to ``n`` from the customer's cluster, else the recent best sellers."""
    if cluster is not None and cluster in cluster_pop:
        pop, label, reason = cluster_pop[cluster], "segment", "segment_popular"
    else:
        pop, label, reason = recent_pop, "popular", "popular_now"
    rank = start
    for item in np.argsort(-pop, kind="stable"):
        if rank >= n or pop[item] <= 0:
            break
        if int(item) in have:
            continue
        rank += 1
        _add(rows, uid, rank, items[item], float(pop[item]), reason, label)
    return source or label


def _clusters(ws: Workspace) -> dict[str, tuple[int, str, str]]:
    if "segments" not in ws.con.list_tables():
        return {}
    seg = ws.table("segments").select("user_id", "cluster", "cluster_name").to_pyarrow()
    names_zh = {}
    if "cluster_profiles" in ws.con.list_tables():
        prof = ws.table("cluster_profiles").select("cluster", "name_zh").to_pyarrow()
        names_zh = dict(zip(prof.column("cluster").to_pylist(), prof.column("name_zh").to_pylist(),
                            strict=True))  # fmt: skip
    return {
        u: (c, name, names_zh.get(c, name))
        for u, c, name in zip(seg.column("user_id").to_pylist(), seg.column("cluster").to_pylist(),
                              seg.column("cluster_name").to_pylist(), strict=True)
        if c is not None
    }  # fmt: skip


def _cluster_popularity(
    data: Interactions, clusters: dict[str, tuple[int, str, str]], blocked: np.ndarray
) -> dict[int, np.ndarray]:
    """Customers per item within each cluster (:class:`Popularity` per group)."""
    groups = [clusters.get(u, (None,))[0] for u in data.users]
    counts = Popularity(groups=groups).fit(data.matrix).group_counts_
    for pop in counts.values():
        pop[blocked] = -1
    return counts


_SCHEMA = OUTPUTS["recommendations"].arrow_schema()


def run_stage(ws: Workspace, as_of: date, params: StageParams) -> StageResult:
    """The recommend stage of the build (on Spark:
    :func:`portrait.recommend.on_spark.build_recommendations_on_spark`)."""
    if params.engine is Engine.SPARK:
        from portrait.recommend.on_spark import build_recommendations_on_spark

        result = build_recommendations_on_spark(ws, as_of)
    else:
        result = build_recommendations(ws, as_of, engine=params.engine)
    return StageResult(rows=result.customers, notes=result.notes,
                       chosen={"model": result.model, "sources": result.sources})  # fmt: skip


STAGE = Stage(
    name="recommend",
    label=Label(en="recommendations", zh="推荐"),
    reads=("events", "orders", "order_items", "reviews", "items", "features", "segments",
           "cluster_profiles"),
    writes=("recommendations",),
    config=("recommend", "segments.seed"),
    run=run_stage,
)  # fmt: skip


class Recommendation(Fact):
    """One item offered to a customer, with why."""

    rank: int
    item_id: str
    title: str | None
    category: str | None
    score: float
    #: why, as a ``recommend_reason`` code
    reason: str
    #: the customer's own item that explains it (bought_similar, viewed_similar, new_similar)
    anchor_item_id: str | None
    anchor_title: str | None
    #: the customer's cluster, for segment_popular
    segment: Label | None
    #: where it came from, as a ``recommend_source`` code
    source: str

    @property
    def reason_label(self) -> Label:
        """The reason in words, with the item or segment that explains it filled in."""
        words = LABELS["recommend_reason"].get(self.reason) or Label(en=self.reason, zh=self.reason)
        anchor = self.anchor_title or self.anchor_item_id or ""
        segment = self.segment or Label(en="", zh="")
        return Label(en=words.en.format(anchor=anchor, segment=segment.en),
                     zh=words.zh.format(anchor=anchor, segment=segment.zh))  # fmt: skip


class CustomerRecommendations(Fact):
    """A customer's stored list, best first, after the asked-for filters."""

    user_id: str
    requested: int
    category: str | None
    items: list[Recommendation]

    @property
    def found(self) -> int:
        """Items that passed the filters."""
        return len(self.items)

    @property
    def short(self) -> bool:
        """Whether fewer items passed the filters than were asked for."""
        return len(self.items) < self.requested

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"user_id": self.user_id, **r.model_dump(mode="json", exclude={"segment"}),
                 "why": r.reason_label.en, "why_zh": r.reason_label.zh}
                for r in self.items]  # fmt: skip


def recommendations_for(
    ws: Workspace, user_id: str, *, n: int = 10, category: str | None = None
) -> CustomerRecommendations:
    """The stored list of ``user_id``, best first, with titles, categories and reasons."""
    ws.require("recommendations")
    user_id = person_of(ws.con, user_id)  # an alias (a per-order id) gets its person's list
    r = ws.table("recommendations")
    r = r.filter(r.user_id == user_id)
    items = ws.table("items").select("item_id", "title", "category")
    anchors = ws.table("items").select(anchor_item_id="item_id", anchor_title="title")
    joined = r.left_join(items, "item_id").drop("item_id_right")
    joined = joined.left_join(anchors, "anchor_item_id").drop("anchor_item_id_right")
    if category:
        joined = joined.filter(joined.category.startswith(category))
    rows = joined.order_by("rank").limit(n).to_pyarrow().to_pylist()
    if not rows and not category:
        raise NotFoundError(
            f"No customer {user_id!r} has recommendations; check the id (portrait profile "
            "USER_ID shows who is known)."
        )
    segment = None
    if any(row["reason"] == "segment_popular" for row in rows):
        segment = _cluster_label(ws, user_id)
    items_out = [
        Recommendation(
            rank=i, item_id=row["item_id"], title=_clean(row["title"]),
            category=row["category"], score=row["score"], reason=row["reason"],
            anchor_item_id=row["anchor_item_id"], anchor_title=_clean(row["anchor_title"]),
            segment=segment if row["reason"] == "segment_popular" else None,
            source=row["source"],
        )
        for i, row in enumerate(rows, start=1)
    ]  # fmt: skip
    return CustomerRecommendations(user_id=user_id, requested=n, category=category,
                                   items=items_out)  # fmt: skip


def _clean(title: str | None) -> str | None:
    title = (title or "").strip()
    return title or None


def _cluster_label(ws: Workspace, user_id: str) -> Label | None:
    """The name of the customer's cluster, in both languages."""
    if not ws.has_table("segments") or not ws.has_table("cluster_profiles"):
        return None
    seg = ws.table("segments").filter(ibis._.user_id == user_id).select("cluster")
    prof = ws.table("cluster_profiles").select("cluster", "name", "name_zh")
    rows = seg.join(prof, "cluster").to_pyarrow().to_pylist()
    return Label(en=rows[0]["name"], zh=rows[0]["name_zh"]) if rows else None
