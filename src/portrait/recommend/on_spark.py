"""The recommend stage on Spark: ALS by Spark MLlib, every list made on the executors.

With ``recommend.model = "als"`` the implicit-feedback factorisation is Spark MLlib's
``ALS(implicitPrefs=True)`` (Hu, Koren and Volinsky 2008, the model :class:`ALS` fits with
the ``implicit`` library on one machine): ``factors`` is its rank, ``alpha`` its confidence
weight, ``iterations`` its ``maxIter``. MLlib scales the regularisation of each user and
item by their number of interactions (Zhou et al. 2008) where ``implicit`` does not, so the
configured ``regularization`` is divided by the mean number of items per customer: the same
strength for a typical customer, not for every one. Customers are numbered for MLlib on
Spark (by a hash bucket and their rank in it); items, which a catalogue bounds, on the
driver.

Every other model is fitted on the driver, which needs the interactions there: only up to
:data:`MAX_DRIVER_INTERACTIONS` of them, beyond which the stage asks for ``als``.

The lists are then made in ``mapInArrow`` (:func:`portrait.spark.map_arrow`), a batch of
customers at a time, with the model broadcast: the model's own batch ``recommend`` (top-N
minus what the customer bought, products that are not merchandise or out of stock), each
item's reason and the customer's item behind it (:func:`portrait.recommend.serve.model_lists`,
as on DuckDB), a new product in the last place of a list it resembles, and lists the
model could not fill topped up from the customer's cluster or the shop's recent best
sellers. Customers without a history get their cluster's or the shop's list, joined on
Spark. What comes to the driver is bounded by the catalogue: the item ids and factors,
and the customers per item in each cluster and in the last 30 days.
"""

from __future__ import annotations

import copy
import logging
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from portrait import spark
from portrait.asof import utc_of_local_midnight
from portrait.engine import Engine
from portrait.errors import ConfigError
from portrait.facts import Note
from portrait.recommend import candidates
from portrait.recommend._base import Recommender
from portrait.recommend.als import ALS
from portrait.recommend.interactions import interaction_table
from portrait.recommend.models import make_model
from portrait.recommend.serve import (
    _RECENT_DAYS,
    _SCHEMA,
    RecommendResult,
    _blocked,
    _fallback_lists,
    _new_items,
    model_lists,
)

if TYPE_CHECKING:
    from portrait.workspace import Workspace

log = logging.getLogger(__name__)

#: interactions above which a model other than ALS is not fitted on the driver
MAX_DRIVER_INTERACTIONS = 5_000_000
#: buckets customers are numbered in (each numbered by a window over its own rows)
_BUCKETS = 64
_DDL = ("user_id string, rank long, item_id string, score double, reason string, "
        "anchor_item_id string, source string")  # fmt: skip


def _rows(batch: pa.Table, items: str, values: str | None, width: int) -> sp.csr_matrix:
    """A list column of item indices (and one of values) as CSR rows, one per customer."""
    lists = batch.column(items).combine_chunks()
    offsets = lists.offsets.to_numpy()
    indices = lists.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    if values is None:
        data = np.ones(len(indices), np.float32)
    else:
        flat = batch.column(values).combine_chunks().flatten()
        data = flat.to_numpy(zero_copy_only=False).astype(np.float32)
    return sp.csr_matrix((data, indices, offsets - offsets[0]), shape=(batch.num_rows, width))


@dataclass
class Lists:
    """Everything a batch of customers' lists is made with: broadcast once."""

    model: Recommender
    n: int
    items: np.ndarray
    blocked: np.ndarray
    fresh_of: np.ndarray
    fresh_sim: np.ndarray
    fresh_ids: np.ndarray
    cluster_pop: dict[int, np.ndarray]
    recent_pop: np.ndarray

    def _model_for(self, batch: pa.Table) -> tuple[Recommender, np.ndarray]:
        """The model and the batch's rows in it: MLlib's factors of these customers in an
        :class:`ALS` that scores with them, or the driver's model and its row numbers."""
        if "factors" not in batch.column_names:
            return self.model, batch.column("u").to_numpy()
        flat = batch.column("factors").combine_chunks().flatten()
        width = cast(ALS, self.model).item_factors_.shape[1]
        model = copy.copy(self.model)
        factors = flat.to_numpy(zero_copy_only=False).astype(np.float32)
        cast(ALS, model).user_factors_ = factors.reshape(batch.num_rows, width)
        return model, np.arange(batch.num_rows)

    def __call__(self, batch: pa.Table) -> pa.Table:
        """The ``recommendations`` rows of a batch of customers with a history, as
        :func:`portrait.recommend.build_recommendations` makes them."""
        n, items = self.n, self.items
        users = batch.column("user_id").to_numpy(zero_copy_only=False).astype(object)
        matrix = _rows(batch, "row_items", "row_weights", len(items))
        exclude = _rows(batch, "bought", None, len(items))
        model, userids = self._model_for(batch)
        ids, scores = model.recommend(userids, matrix, N=n, filter_items=self.blocked,
                                      exclude=exclude)  # fmt: skip
        clusters = batch.column("cluster").to_pylist()
        fresh = (self.fresh_of, self.fresh_sim, self.fresh_ids)
        listed, _ = model_lists(model, matrix, exclude, ids, scores, self.blocked, users, items,
                                fresh, clusters, self.cluster_pop, self.recent_pop, n)  # fmt: skip
        return cast(pa.Table, listed.table)

    def fallback(self, batch: pa.Table) -> pa.Table:
        """The lists of a batch of customers without a history: their cluster's best
        sellers, else the shop's recent ones (:func:`serve._fallback_lists`)."""
        users = batch.column("user_id").to_pylist()
        clusters = {u: (int(c), "", "") for u, c in zip(users, batch.column("cluster").to_pylist(),
                                                       strict=True) if c is not None}  # fmt: skip
        parts, _ = _fallback_lists(users, self.n, clusters, self.cluster_pop, self.recent_pop,
                                   self.items)  # fmt: skip
        return pa.concat_tables([_SCHEMA.empty_table(), *parts]).cast(_SCHEMA)


def _numbered(users: Any) -> Any:
    """Customers numbered 0..n-1 on Spark without the driver: bucket sizes (a few rows)
    give each bucket its offset, and a window within the bucket the rest."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    bucketed = users.withColumn("_b", F.pmod(F.xxhash64("user_id"), F.lit(_BUCKETS)))
    sizes = bucketed.groupBy("_b").count().toArrow().sort_by("_b")
    offsets = dict(zip(sizes.column("_b").to_pylist(),
                       np.cumsum([0, *sizes.column("count").to_pylist()[:-1]]).tolist(),
                       strict=True))  # fmt: skip
    offset = F.element_at(F.create_map(*[F.lit(x) for kv in offsets.items() for x in kv]),
                          F.col("_b"))  # fmt: skip
    rank = F.row_number().over(Window.partitionBy("_b").orderBy("user_id")) - 1
    return bucketed.select("user_id", (offset + rank).cast("int").alias("u"))


def _als(pairs: Any, users: int, width: int, params: dict[str, Any]) -> tuple[ALS, Any]:
    """ALS fitted by Spark MLlib: an :class:`ALS` holding its item factors (which score on
    the executors with each customer's own factors), and the customers' factors."""
    from pyspark.ml.recommendation import ALS as MLlibALS

    model = ALS(**params)
    nnz = pairs.count()
    fitted = MLlibALS(
        rank=model.factors, maxIter=model.iterations, alpha=model.alpha,
        regParam=model.regularization / max(nnz / max(users, 1), 1.0), implicitPrefs=True,
        seed=model.seed, userCol="u", itemCol="i", ratingCol="w", coldStartStrategy="drop",
    ).fit(pairs)  # fmt: skip
    factors = fitted.itemFactors.toArrow()
    vectors = np.zeros((width, model.factors), dtype=np.float32)
    ids = factors.column("id").to_numpy()
    flat = factors.column("features").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    vectors[ids] = flat.reshape(len(ids), model.factors)
    model.item_factors_ = vectors
    model.user_factors_ = np.zeros((0, model.factors), dtype=np.float32)
    return model, fitted.userFactors.withColumnRenamed("id", "u").withColumnRenamed(
        "features", "factors"
    )


def build_recommendations_on_spark(ws: Workspace, as_of: date) -> RecommendResult:
    """:func:`portrait.recommend.build_recommendations` on Spark; writes ``recommendations``
    as a Spark table."""
    from pyspark.sql import functions as F

    cfg = ws.config.recommend
    cutoff = utc_of_local_midnight(as_of, ws.config.shop.timezone)
    known = spark.dataframe(ws.output("features", Engine.SPARK).select("user_id"))
    result = RecommendResult(customers=ws.count("features"), model=cfg.model, items=0)
    expr = interaction_table(ws, as_of, weights=cast(dict[str, float], cfg.weights),
                             engine=Engine.SPARK)  # fmt: skip
    with ExitStack() as stack:
        events = (
            None if expr is None else stack.enter_context(spark.scratch(ws, expr, "interactions"))
        )
        if events is None or not events.limit(1).count():
            result.notes.append(Note.of("no_interactions"))
            ws.replace_table("recommendations", _SCHEMA.empty_table())
            return result
        ids = events.select("item_id").distinct().toArrow().column("item_id")
        item_ids = np.unique(ids.to_numpy(zero_copy_only=False).astype(str))
        result.items = len(item_ids)
        numbers = np.arange(len(item_ids), dtype=np.int32)
        index = spark.spark_session(ws).createDataFrame(
            pa.table({"item_id": item_ids, "i": numbers})
        )
        events = events.join(F.broadcast(index), "item_id")
        pairs = stack.enter_context(
            spark.scratch(ws, _pairs(events, cfg.half_life_days, cutoff), "pairs")
        )
        model, numbered = _fitted(ws, stack, pairs, item_ids)
        per_user = numbered.join(_histories(events, pairs), "user_id")
        lists = _lists(ws, model, cfg.n, item_ids, _blocked(ws, item_ids), pairs, events, cutoff)
        result.customers, result.sources = _write(ws, per_user, known, pairs, lists)
    return result


def _pairs(events: Any, half_life_days: float, cutoff: datetime) -> Any:
    """The interaction matrix's entries: each customer's summed weight of each item, an
    interaction ``d`` days before the cutoff counting ``0.5 ** (d / half_life_days)``."""
    from pyspark.sql import functions as F

    weight = F.col("weight")
    if half_life_days:
        days = F.unix_micros(F.col("ts")) / 86_400e6
        age = F.greatest(F.lit(cutoff.timestamp() / 86_400) - days, F.lit(0.0))
        weight = weight * F.pow(F.lit(0.5), age / F.lit(float(half_life_days)))
    return events.groupBy("user_id", "i").agg(F.sum(weight).alias("w"))


def _histories(events: Any, pairs: Any) -> Any:
    """Per customer: their items and weights (``row_items``, ``row_weights``: their row of
    the matrix) and what they bought (``bought``; all they touched in a shop without
    purchases), which their list leaves out."""
    from pyspark.sql import functions as F

    bought_from = events.filter(F.col("kind") == "buy")
    if not bought_from.limit(1).count():
        bought_from = events
    bought = bought_from.groupBy("user_id").agg(F.array_sort(F.collect_set("i")).alias("bought"))
    rows = pairs.groupBy("user_id").agg(
        F.array_sort(F.collect_list(F.struct("i", "w"))).alias("_row")
    )
    rows = rows.select(
        "user_id", F.col("_row.i").alias("row_items"), F.col("_row.w").alias("row_weights")
    )
    return rows.join(bought, "user_id", "left").withColumn(
        "bought", F.coalesce("bought", F.array().cast("array<int>"))
    )


def _fitted(
    ws: Workspace, stack: ExitStack, pairs: Any, item_ids: np.ndarray
) -> tuple[Recommender, Any]:
    """The configured model, and every customer with a history with their number in it
    (``u``) and, for ALS, their factors (``factors``)."""
    cfg = ws.config.recommend
    if cfg.model != "als":
        return _driver_model(ws, pairs, item_ids, cfg.model, dict(cfg.params))
    numbered = stack.enter_context(
        spark.scratch(ws, _numbered(pairs.select("user_id").distinct()), "numbered")
    )
    ratings = pairs.join(numbered, "user_id").select("u", "i", "w")
    params = {"seed": ws.config.segments.seed, **cfg.params}
    als, factors = _als(ratings, numbered.count(), len(item_ids), params)
    als.n_items_ = len(item_ids)
    als.popularity_ = _popularity(pairs, len(item_ids))
    # made once here, so the broadcast model carries its unit item vectors
    als.item_affinity(np.zeros(1, np.int64), np.zeros(1, np.int64))
    if als.searches_candidates():
        # a wide catalogue: the candidate index is fitted here, once, on a bounded sample of
        # the customers' factors, and travels with the broadcast model
        customers = numbered.count()
        share = min(1.0, candidates.FIT_SAMPLE / max(customers, 1))
        sample = factors.sample(fraction=share, seed=als.seed).limit(candidates.FIT_SAMPLE)
        flat = sample.select("factors").toArrow().column("factors").combine_chunks().flatten()
        vectors = flat.to_numpy(zero_copy_only=False).astype(np.float32)
        als.prepare_search(vectors.reshape(-1, als.factors))
    return als, numbered.join(factors, "u")


def _popularity(pairs: Any, width: int) -> np.ndarray:
    """Each item's customers over the most any item has (what ``Recommender._fitted``
    records): one row per item."""
    from pyspark.sql import functions as F

    counts = pairs.groupBy("i").agg(F.count(F.lit(1)).alias("n")).toArrow()
    out = np.zeros(width)
    out[counts.column("i").to_numpy()] = counts.column("n").to_numpy()
    scaled: np.ndarray = out / max(out.max(initial=0.0), 1.0)
    return scaled


def _driver_model(
    ws: Workspace, pairs: Any, item_ids: np.ndarray, name: str, params: dict[str, Any]
) -> tuple[Recommender, Any]:
    """A model other than ALS, fitted on the driver from the interaction pairs when they
    are few enough; with the customers' row numbers in its matrix."""
    from pyspark.sql import functions as F

    total = pairs.count()
    if total > MAX_DRIVER_INTERACTIONS:
        raise ConfigError(
            f'recommend.model = "{name}" is fitted on the driver and this shop has {total:,} '
            f"customer-item pairs (the limit is {MAX_DRIVER_INTERACTIONS:,}); set "
            'recommend.model = "als", which Spark fits on the cluster.'
        )
    table = pairs.select("user_id", "i", "w").toArrow()
    users = np.unique(table.column("user_id").to_numpy(zero_copy_only=False).astype(str))
    u = pc.index_in(table.column("user_id"), value_set=pa.array(users)).to_numpy()
    matrix = sp.csr_matrix(
        (table.column("w").to_numpy().astype(np.float32), (u, table.column("i").to_numpy())),
        shape=(len(users), len(item_ids)),
    )
    model = make_model(name, params, seed=ws.config.segments.seed).fit(matrix)
    numbered = spark.spark_session(ws).createDataFrame(
        pa.table({"user_id": users, "u": np.arange(len(users), dtype=np.int64)})
    )
    return model, F.broadcast(numbered) if len(users) < 100_000 else numbered


def _lists(
    ws: Workspace, model: Recommender, n: int, item_ids: np.ndarray, blocked: np.ndarray,
    pairs: Any, events: Any, cutoff: Any,
) -> Lists:  # fmt: skip
    """The broadcastable :class:`Lists`: the model and what the catalogue bounds."""
    from pyspark.sql import functions as F

    width = len(item_ids)
    fresh_of, fresh_sim, fresh_ids = _new_items(ws, item_ids)
    # customers per item in the last 30 days (all the log if it has none so recent)
    since = cutoff - timedelta(days=_RECENT_DAYS)
    recent = events.filter(F.col("ts") >= F.lit(since))
    if not recent.limit(1).count():
        recent = events
    counts = recent.groupBy("i").agg(F.countDistinct("user_id").alias("n")).toArrow()
    recent_pop = np.zeros(width)
    recent_pop[counts.column("i").to_numpy()] = counts.column("n").to_numpy()
    recent_pop[blocked] = -1
    # customers per item in each cluster (the clusters of customers with a history)
    cluster_pop: dict[int, np.ndarray] = {}
    if ws.has_table("segments"):
        seg = spark.dataframe(ws.output("segments", Engine.SPARK).select("user_id", "cluster"))
        grouped = pairs.join(seg.filter(F.col("cluster").isNotNull()), "user_id")
        per = grouped.groupBy("cluster", "i").agg(F.count(F.lit(1)).alias("n")).toArrow()
        clusters = grouped.select("cluster").distinct().toArrow().column("cluster").to_pylist()
        for c in clusters:
            cluster_pop[int(c)] = np.zeros(width)
        for c, i, k in zip(*(per.column(x).to_pylist() for x in ("cluster", "i", "n")),
                           strict=True):  # fmt: skip
            cluster_pop[int(c)][i] = k
        for pop in cluster_pop.values():
            pop[blocked] = -1
    return Lists(model, n, item_ids, blocked, fresh_of, fresh_sim, fresh_ids, cluster_pop,
                 recent_pop)  # fmt: skip


def _write(ws: Workspace, per_user: Any, known: Any, pairs: Any,
           lists: Lists) -> tuple[int, dict[str, int]]:  # fmt: skip
    """Make every list on the executors and write ``recommendations``; the customers served
    and how, by the source of each one's first item."""
    from pyspark.sql import functions as F

    shared = spark.broadcast(ws, lists)
    if ws.has_table("segments"):
        seg = spark.dataframe(ws.output("segments", Engine.SPARK).select("user_id", "cluster"))
        per_user = per_user.join(seg, "user_id", "left")
    else:
        per_user = per_user.withColumn("cluster", F.lit(None).cast("long"))
    model_lists = spark.map_arrow(per_user, lambda b: shared.value(b), _DDL)
    prospects = known.join(pairs.select("user_id").distinct(), "user_id", "left_anti")
    if ws.has_table("segments"):
        prospects = prospects.join(seg, "user_id", "left")
    else:
        prospects = prospects.withColumn("cluster", F.lit(None).cast("long"))
    fallback = spark.map_arrow(prospects, lambda b: shared.value.fallback(b), _DDL)
    ws.replace_table("recommendations", model_lists.unionByName(fallback))
    written = spark.dataframe(ws.output("recommendations", Engine.SPARK))
    firsts = written.filter(F.col("rank") == 1).groupBy("source").count().toArrow().to_pylist()
    by_source = {r["source"]: int(r["count"]) for r in firsts}
    sources = {
        "model": by_source.get("model", 0) + by_source.get("new_item", 0),
        "segment": by_source.get("segment", 0),
        "popular": by_source.get("popular", 0),
    }
    customers = pairs.select("user_id").distinct().count() + prospects.count()
    return customers, sources
