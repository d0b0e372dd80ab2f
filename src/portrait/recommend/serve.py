"""The recommend stage: top-N per customer, with business filters, cold start and reasons.

After ``portrait build`` the table ``recommendations`` holds, for every known customer,
``recommend.n`` items best first with a one-line reason in English and Chinese:

- customers with a history get the configured model's ranking, minus what they already
  bought (or rated, in a shop without purchases), products that are not merchandise
  (postage, fees) and products out of stock; each item's reason names the product of theirs
  it is most often bought with ("bought with X");
- customers without a history (registered, or only known from the features) get what is
  popular in their behavioural cluster, or in the whole shop in its last 30 days;
- a list the model could not fill (everything else filtered out) is topped up the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from portrait.errors import ConfigError
from portrait.features._context import utc_of_local_midnight
from portrait.recommend.evaluate import MODELS, _make
from portrait.recommend.interactions import (
    Interactions,
    interaction_log,
    interactions,
    to_matrix,
)

if TYPE_CHECKING:
    from portrait.workspace import Workspace

log = logging.getLogger(__name__)

_ANCHORS = 30  # a customer's products considered when explaining a recommendation
_NEW_PER_CUSTOMER = 1  # new products (no interactions yet) at the end of a list, at most
#: a new product is placed under a known one this similar, but not a near-twin of it (the
#: same product under another code is not news)
_NEW_SIMILARITY = (0.5, 0.95)
_RECENT_DAYS = 30


@dataclass
class RecommendResult:
    customers: int
    model: str
    items: int
    #: customers served by the model, by their segment, by the shop's recent best sellers
    sources: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _blocked(ws: Workspace, items: np.ndarray) -> np.ndarray:
    """Indices of items that are not merchandise or are out of stock."""
    t = ws.table("items")
    bad = t.filter((t.is_merchandise == False) | (t.in_stock == False))  # noqa: E712
    ids = bad.select("item_id").to_pyarrow().column("item_id")
    return np.flatnonzero(pc.is_in(pa.array(items), value_set=ids).to_numpy(zero_copy_only=False))


def _titles(ws: Workspace, items: np.ndarray) -> np.ndarray:
    t = ws.table("items").select("item_id", "title").to_pyarrow()
    lookup = dict(zip(t.column("item_id").to_pylist(), t.column("title").to_pylist(), strict=True))
    return np.array([(lookup.get(i) or i).strip() for i in items], dtype=object)


def _anchors(
    matrix: sp.csr_matrix, users: np.ndarray, recs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each recommended item, the customer's own item most bought with it.

    Co-occurrence cosine between the item columns; returns (anchor item index, strength),
    -1 where no item of theirs co-occurs with it.
    """
    binary = (matrix > 0).astype(np.float32).tocsc()
    norms = np.sqrt(np.asarray(binary.sum(axis=0)).ravel())
    columns = binary.T.tocsr()
    anchor = np.full(recs.shape, -1, dtype=np.int64)
    strength = np.zeros(recs.shape)
    rows = matrix[users]
    for r in range(len(users)):
        own = rows.indices[rows.indptr[r] : rows.indptr[r + 1]]
        if len(own) == 0:
            continue
        if len(own) > _ANCHORS:
            weights = rows.data[rows.indptr[r] : rows.indptr[r + 1]]
            own = own[np.argsort(-weights, kind="stable")[:_ANCHORS]]
        valid = recs[r] >= 0
        co = (columns[recs[r][valid]] @ columns[own].T).toarray()
        co /= np.maximum(norms[recs[r][valid], None] * norms[None, own], 1e-12)
        best = co.argmax(axis=1)
        got = co[np.arange(len(best)), best]
        anchor[r, valid] = np.where(got > 0, own[best], -1)
        strength[r, valid] = got
    return anchor, strength


def build_recommendations(
    ws: Workspace, as_of: date, *, engine: str | None = None
) -> RecommendResult:
    """Fit the configured model on interactions before ``as_of`` and write
    ``recommendations`` (user_id, rank, item_id, score, reason, reason_zh, source)."""
    cfg = ws.config.recommend
    if cfg.model not in MODELS:
        raise ConfigError(
            f"recommend.model {cfg.model!r} is unknown; use one of {', '.join(MODELS)}."
        )
    cutoff = utc_of_local_midnight(as_of, ws.config.shop.timezone)
    events = interaction_log(ws, as_of, weights=cfg.weights, engine=engine)
    known = ws.table("features").select("user_id").to_pyarrow().column("user_id")
    result = RecommendResult(customers=len(known), model=cfg.model, items=0)
    if events.num_rows == 0:
        result.notes.append("there are no interactions with products, so nothing to recommend")
        ws.replace_table("recommendations", _SCHEMA.empty_table())
        return result
    data = interactions(events, half_life_days=cfg.half_life_days or None, as_of=cutoff)
    result.items = len(data.items)
    buys = events.filter(pc.equal(events.column("kind"), "buy"))
    exclude = to_matrix(buys if buys.num_rows else events, data.users, data.items)
    blocked = _blocked(ws, data.items)
    model = _make(MODELS[cfg.model][0], dict(cfg.params), ws.config.segments.seed)
    model.fit(data.matrix)
    n = cfg.n
    users = np.arange(len(data.users))
    ids, scores = model.recommend(users, data.matrix, N=n, filter_items=blocked, exclude=exclude)
    ids = np.where(np.isfinite(scores), ids, -1)
    anchor, _ = _anchors(data.matrix, users, ids)
    titles = _titles(ws, data.items)
    bought = exclude
    # the fallback rankings: per cluster, and the shop's recent best sellers
    recent_from = cutoff - timedelta(days=_RECENT_DAYS)
    recent = events.filter(
        pc.greater_equal(events.column("ts"), pa.scalar(recent_from, pa.timestamp("us")))
    )
    if recent.num_rows == 0:
        recent = events
    recent_pop = np.asarray((to_matrix(recent, data.users, data.items) > 0).sum(axis=0)).ravel()
    recent_pop[blocked] = -1
    clusters = _clusters(ws)
    rows: dict[str, list[Any]] = {k: [] for k in _SCHEMA.names}
    seen_users = set(data.users.tolist())
    cluster_pop = _cluster_popularity(data, clusters, blocked)
    counts = {"model": 0, "segment": 0, "popular": 0}
    fresh = _new_items(ws, data.items, titles)
    for u, uid in enumerate(data.users):
        picks = [(int(i), float(s)) for i, s in zip(ids[u], scores[u], strict=True) if i >= 0]
        entries = []
        for rank, (item, score) in enumerate(picks, start=1):
            a = anchor[u, rank - 1]
            if a >= 0 and bought[u, a]:
                en, zh = f"bought with {titles[a]}", f"常与您买过的「{titles[a]}」一起购买"
            elif a >= 0:
                en = f"goes with {titles[a]}, which you looked at"
                zh = f"与您看过的「{titles[a]}」常被一起选购"
            else:
                en, zh = "popular with customers like you", "与您相似的顾客喜欢"
            entries.append((data.items[item], score, en, zh, "model"))
        # new products nobody has bought yet, when they resemble the customer's own or picks
        mine = [i for i, _ in picks] + bought[u].indices.tolist()
        news = sorted({c for i in mine for c in fresh.get(i, ())}, key=lambda c: -c[1])
        news = news[:_NEW_PER_CUSTOMER] if entries else []
        entries = entries[: n - len(news)] + [
            (item, sim, f"new, like {like}", f"新品，与「{like}」相似", "new_item")
            for item, sim, like in news
        ]
        for rank, entry in enumerate(entries, start=1):
            _add(rows, uid, rank, *entry)
        source = "model"
        if len(entries) < n:
            have = {i for i, _ in picks} | set(bought[u].indices.tolist())
            source = _top_up(rows, uid, len(entries), n, have, clusters.get(uid), cluster_pop,
                             recent_pop, data.items, source="model")  # fmt: skip
        counts["model" if picks else source] += 1
    for uid in known.to_pylist():
        if uid in seen_users:
            continue
        source = _top_up(rows, uid, 0, n, set(), clusters.get(uid), cluster_pop, recent_pop,
                         data.items, source="")  # fmt: skip
        counts[source] += 1
    ws.replace_table("recommendations", pa.table(rows, schema=_SCHEMA))
    result.customers = len(seen_users | set(known.to_pylist()))
    result.sources = counts
    return result


def _new_items(
    ws: Workspace, known: np.ndarray, titles: np.ndarray
) -> dict[int, list[tuple[str, float, str]]]:
    """Products nobody has interacted with yet, each under the known product it resembles.

    Similarity is the cosine of character 2-4-gram TF-IDF vectors of category and title
    (works for Chinese titles without a word segmenter); a new product goes under its most
    similar known product if the cosine is at least 0.5 and below 0.95 (a near-twin is the
    same product under another code, not news). Returns known item index ->
    [(new item id, similarity, known product's title)].
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    t = ws.table("items")
    t = t.filter(t.is_merchandise.fill_null(True), t.in_stock.fill_null(True))
    table = t.select("item_id", "title", "category").to_pyarrow()
    ids = table.column("item_id").to_numpy(zero_copy_only=False).astype(str)
    is_new = ~np.isin(ids, known)
    if not is_new.any():
        return {}
    text = np.char.add(
        table.column("category").fill_null("").to_numpy(zero_copy_only=False).astype(str),
        np.char.add(" ", table.column("title").fill_null("").to_numpy(zero_copy_only=False)
                    .astype(str)),
    )  # fmt: skip
    known_text = text[np.isin(ids, known)]
    known_ids = ids[np.isin(ids, known)]
    if not len(known_text) or not "".join(text[is_new]).strip():
        return {}
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=1)
    vectors = vectorizer.fit_transform(np.r_[known_text, text[is_new]])
    sims = (vectors[len(known_text) :] @ vectors[: len(known_text)].T).tocsr()
    position = {item: i for i, item in enumerate(known.tolist())}
    out: dict[int, list[tuple[str, float, str]]] = {}
    for row, new_id in enumerate(ids[is_new]):
        line = sims.getrow(row)
        if line.nnz == 0:
            continue
        j = line.indices[line.data.argmax()]
        sim = float(line.data.max())
        if _NEW_SIMILARITY[0] <= sim < _NEW_SIMILARITY[1]:
            k = position[known_ids[j]]
            out.setdefault(k, []).append((str(new_id), sim, titles[k]))
    return out


def _add(rows: dict[str, list[Any]], uid: str, rank: int, item: str, score: float, en: str,
         zh: str, source: str) -> None:  # fmt: skip
    for key, value in zip(_SCHEMA.names, (uid, rank, item, score, en, zh, source), strict=True):
        rows[key].append(value)


def _top_up(
    rows: dict[str, list[Any]], uid: str, start: int, n: int, have: set[int],
    cluster: tuple[int, str, str] | None, cluster_pop: dict[int, np.ndarray],
    recent_pop: np.ndarray, items: np.ndarray, source: str,
) -> str:  # fmt: skip
    """Fill a list up to ``n`` from the customer's cluster, else the recent best sellers."""
    if cluster is not None and cluster[0] in cluster_pop:
        pop, label = cluster_pop[cluster[0]], "segment"
        en, zh = f"popular in your segment ({cluster[1]})", f"在您所在的客群（{cluster[2]}）中热销"
    else:
        pop, label = recent_pop, "popular"
        en, zh = "a best seller this month", "本月热销"
    rank = start
    for item in np.argsort(-pop, kind="stable"):
        if rank >= n or pop[item] <= 0:
            break
        if int(item) in have:
            continue
        rank += 1
        _add(rows, uid, rank, items[item], float(pop[item]), en, zh, label)
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
    """Customers per item within each cluster."""
    label = np.array([clusters.get(u, (-1,))[0] for u in data.users])
    binary = (data.matrix > 0).astype(np.float32)
    out = {}
    for c in set(label.tolist()) - {-1}:
        pop = np.asarray(binary[label == c].sum(axis=0)).ravel()
        pop[blocked] = -1
        out[c] = pop
    return out


_SCHEMA = pa.schema(
    [("user_id", pa.string()), ("rank", pa.int64()), ("item_id", pa.string()),
     ("score", pa.float64()), ("reason", pa.string()), ("reason_zh", pa.string()),
     ("source", pa.string())]
)  # fmt: skip


def recommendations_for(
    ws: Workspace, user_id: str, *, n: int = 10, category: str | None = None
) -> list[dict[str, Any]]:
    """The stored list of ``user_id``, best first, with titles, categories and reasons."""
    if "recommendations" not in ws.con.list_tables():
        raise ConfigError(f"No recommendations yet; run `portrait build -w {ws.path}` first.")
    r = ws.table("recommendations")
    r = r.filter(r.user_id == user_id)
    items = ws.table("items").select("item_id", "title", "category")
    joined = r.left_join(items, "item_id").drop("item_id_right")
    if category:
        joined = joined.filter(joined.category.startswith(category))
    rows = joined.order_by("rank").limit(n).to_pyarrow().to_pylist()
    if not rows and not category:
        raise ConfigError(
            f"No customer {user_id!r} has recommendations; check the id (portrait profile "
            "USER_ID shows who is known)."
        )
    for i, row in enumerate(rows, start=1):
        row["rank"] = i
    return rows
