"""The segments stage on Spark: RFM and lifecycle as Spark queries, clusters fitted on a
sample and assigned on the executors.

RFM scores and the lifecycle stage are the same Ibis expressions as on DuckDB, run by Spark
(the RFM percentile ranks are a window over every buyer, which Spark computes in one
partition). The clusters need the driver only for what is bounded: the standardisation's
medians, means and deviations are Spark aggregates over every customer (one row); k-means
is fitted on the first :func:`~portrait.segments.clusters.sample_size` customers in the
order of a seeded hash of their id, the same customers the DuckDB path fits on, so the
centres are the same; every customer is then assigned to its nearest centre in
``mapInPandas`` with the scaling and the model broadcast, and the profiles are per-cluster
sums computed by Spark (k rows). ``segments`` and ``cluster_profiles`` are written as
Spark tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from portrait import spark
from portrait.engine import Engine
from portrait.facts import Note
from portrait.features import feature_gaps
from portrait.schema import OUTPUTS
from portrait.segments.build import profiles_table
from portrait.segments.clusters import (
    CANDIDATES,
    Clustering,
    ClusterStats,
    Scaling,
    _matrix,
    describe,
    fit_clusters,
    one_cluster,
    sample_keys,
    sample_size,
    usable,
)
from portrait.segments.lifecycle import lifecycle_stage
from portrait.segments.rfm import rfm_scores
from portrait.stages import StageParams, StageResult

if TYPE_CHECKING:
    from portrait.workspace import Workspace

log = logging.getLogger(__name__)

_VALUE = "monetary"


def _clean(name: str) -> Any:
    """A feature column with NaN as null: missing either way, as the DuckDB path reads it."""
    from pyspark.sql import functions as F

    col = F.col(name).cast("double")
    return F.when(F.isnan(col), None).otherwise(col)


def scaling_of(df: Any, columns: list[str]) -> tuple[int, Scaling, dict[str, float]]:
    """The customers, the :class:`Scaling` of the usable candidates over all of them, and
    each usable feature's shop mean: two Spark aggregates of one row each."""
    from pyspark.sql import functions as F

    first = [F.count(F.lit(1)).alias("n")]
    for i, name in enumerate(columns):
        c = _clean(name)
        first += [F.count(c).alias(f"k{i}"), F.stddev_pop(c).alias(f"s{i}"),
                  F.min(c).alias(f"lo{i}"), F.percentile(c, 0.5).alias(f"m{i}"),
                  F.avg(c).alias(f"a{i}")]  # fmt: skip
    row = df.agg(*first).collect()[0].asDict()
    n = int(row["n"])
    names, medians, logs, shop = [], [], [], {}
    for i, name in enumerate(columns):
        if not n or not row[f"k{i}"]:
            continue
        logged = usable(name, row[f"k{i}"] / n, row[f"s{i}"] or 0.0, row[f"lo{i}"])
        if logged is None:
            continue
        names.append(name)
        medians.append(float(row[f"m{i}"]))
        logs.append(logged)
        shop[name] = float(row[f"a{i}"])
    scaling = Scaling(names, medians, logs)
    if not names:
        return n, scaling, shop
    second = []
    for i, (name, median, logged) in enumerate(zip(names, medians, logs, strict=True)):
        v = F.coalesce(_clean(name), F.lit(median))
        v = F.log1p(v) if logged else v
        second += [F.avg(v).alias(f"a{i}"), F.stddev_pop(v).alias(f"s{i}")]
    row = df.agg(*second).collect()[0].asDict()
    scaling.means = [float(row[f"a{i}"]) for i in range(len(names))]
    scaling.sds = [float(row[f"s{i}"] or 0.0) for i in range(len(names))]
    return n, scaling, shop


def _keyed(seed: int) -> Callable[[pa.Table], pa.Table]:
    """Each customer's sample key (:func:`sample_keys`), on the executors."""

    def run(batch: pa.Table) -> pa.Table:
        ids = batch.column("user_id").to_numpy(zero_copy_only=False)
        return batch.append_column("_key", pa.array(sample_keys(ids, seed)))

    return run


def _assign(model: Any, names: list[str]) -> Callable[[pa.Table], pa.Table]:
    """Each customer's k-means cluster (as k-means numbered it) and standardised features,
    which the profiles sum, on the executors with the scaling and the model broadcast."""

    def run(batch: pa.Table) -> pa.Table:
        scaling, fitted = model.value
        x, _ = _matrix(batch, scaling)
        out = {"user_id": batch.column("user_id"), "_raw": fitted.predict(x)}
        out |= {f"_z{j}": x[:, j].astype(np.float64) for j in range(len(names))}
        return pa.table(out)

    return run


def build_segments_on_spark(ws: Workspace, as_of: date, params: StageParams) -> StageResult:
    """:func:`portrait.segments.build_segments` on Spark."""
    from pyspark.sql import functions as F

    cfg = ws.config.segments
    features = ws.output("features", Engine.SPARK)
    has_money = "monetary" not in feature_gaps(ws)
    rfm = rfm_scores(features, bins=cfg.rfm_bins, has_money=has_money)
    stage = lifecycle_stage(
        features, new_days=cfg.new_days, active_days=cfg.active_days, churn_days=cfg.churn_days
    )
    base = features.select("user_id", lifecycle_stage=stage)
    base = spark.dataframe(base.left_join(rfm, "user_id").drop("user_id_right"))
    wanted = [_VALUE, *[c for c in CANDIDATES if c != _VALUE]]
    columns = [c for c in wanted if c in features.columns]
    df = spark.dataframe(features.select("user_id", *columns))
    n, scaling, shop = scaling_of(df, [c for c in columns if c in CANDIDATES])
    has_value = _VALUE in columns
    fitted = None
    if n >= 3 and scaling.names:
        doubles = df.select("user_id", *[F.col(c).cast("double") for c in scaling.names])
        keyed = spark.map_arrow(doubles, _keyed(cfg.seed), f"{_schema(scaling.names)}, _key long")
        sample = keyed.orderBy("_key", "user_id").limit(sample_size()).toArrow()
        sample = sample.sort_by([("_key", "ascending"), ("user_id", "ascending")])
        x, _ = _matrix(sample, scaling)
        fitted = fit_clusters(x, n, max_clusters=cfg.max_clusters, seed=cfg.seed)
    if fitted is None:
        clustering = Clustering(np.zeros(0, np.int64), 1, {1: 0.0}, [],
                                [one_cluster(n, has_value)])  # fmt: skip
        assigned = base.select("user_id", F.lit(0).cast("long").alias("cluster"),
                               F.lit("all customers").alias("cluster_name"))  # fmt: skip
        _write(ws, base, assigned, clustering)
        return StageResult(rows=ws.count("segments"), notes=[Note.of("one_cluster", customers=n)],
                           chosen={"clusters": 1})  # fmt: skip
    names, k = scaling.names, fitted.k
    model = spark.broadcast(ws, (scaling, fitted.model))
    zs = [f"_z{j}" for j in range(len(names))]
    schema = "user_id string, _raw long, " + ", ".join(f"{z} double" for z in zs)
    scored = spark.map_arrow(df.select("user_id", *names), _assign(model, names), schema)
    # every customer's cluster is computed once, into scratch files the profiles and the
    # segments table both read
    with spark.scratch(ws, scored, "clusters") as clusters:
        joined = clusters.join(df.select("user_id", *columns), "user_id")
        aggs = [F.count(F.lit(1)).alias("size")]
        aggs += [F.sum(F.col(z)).alias(z) for z in zs]
        aggs += [F.avg(_clean(name)).alias(f"_m{j}") for j, name in enumerate(names)]
        if has_value:
            aggs.append(F.sum(F.coalesce(_clean(_VALUE), F.lit(0.0))).alias("_value"))
        rows = joined.groupBy("_raw").agg(*aggs).toArrow().sort_by("_raw")
        raw = rows.column("_raw").to_numpy()
        if not np.array_equal(raw, np.arange(len(raw))):  # an empty cluster: none has it
            rows = _dense(rows, k)
        money = rows.column("_value").to_numpy() if has_value else None
        stats = ClusterStats(
            sizes=rows.column("size").to_numpy(),
            value=money,
            total_value=float(money.sum()) if money is not None else 0.0,
            z_sums=np.column_stack([rows.column(z).to_numpy() for z in zs]),
            raw_means=np.column_stack(
                [rows.column(f"_m{j}").to_numpy(zero_copy_only=False) for j in range(len(names))]
            ),
            shop_means=np.array([shop[name] for name in names]),
        )
        renumber, profiles = describe(stats, names, n)
        clustering = Clustering(np.zeros(0, np.int64), k, fitted.silhouettes, names, profiles)
        number = F.element_at(
            F.array(*[F.lit(int(c)) for c in renumber]), (F.col("_raw") + 1).cast("int")
        )
        named = F.element_at(F.array(*[F.lit(p.name) for p in profiles]), number + 1)
        assigned = clusters.select("user_id", number.cast("long").alias("cluster"),
                                   named.alias("cluster_name"))  # fmt: skip
        _write(ws, base, assigned, clustering)
    log.info("clusters on Spark: k=%d chosen by silhouette %s", k, fitted.silhouettes)
    return StageResult(rows=ws.count("segments"), chosen={"clusters": k})


def _schema(names: list[str]) -> str:
    return "user_id string, " + ", ".join(f"{name} double" for name in names)


def _dense(rows: pa.Table, k: int) -> pa.Table:
    """Per-cluster rows for every cluster 0..k-1 (a cluster no customer is nearest to has
    size 0 and no means)."""
    index = pa.table({"_raw": pa.array(np.arange(k), pa.int64())})
    out = index.join(rows, "_raw", join_type="left outer").sort_by("_raw")
    filled = {c: out.column(c).fill_null(0) for c in out.column_names
              if c == "size" or c.startswith("_z") or c == "_value"}  # fmt: skip
    for c, col in filled.items():
        out = out.set_column(out.column_names.index(c), c, col)
    return out


def _write(ws: Workspace, base: Any, assigned: Any, clustering: Clustering) -> None:
    """``segments`` (every customer of ``base`` with a cluster) and ``cluster_profiles``."""
    joined = base.join(assigned, "user_id")
    ws.replace_table("segments", joined.select(*OUTPUTS["segments"].names))
    profiles = spark.spark_session(ws).createDataFrame(profiles_table(clustering))
    ws.replace_table("cluster_profiles", profiles)
