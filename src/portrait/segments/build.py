"""The segments stage, and what ``portrait segments`` reads back from it.

Writes ``segments`` (one row per customer: r/f/m scores, RFM code and segment, lifecycle
stage, cluster and its name) and ``cluster_profiles`` (what sets each cluster apart);
:func:`segment_report` turns them into facts: each segment's size, value share and
averages, and each cluster's distinguishing traits.
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from portrait.engine import Engine
from portrait.facts import Fact, Note
from portrait.features import FEATURES, feature_gaps
from portrait.labels import Label, label
from portrait.schema import OUTPUTS
from portrait.segments.clusters import CANDIDATES, Clustering, cluster_customers
from portrait.segments.lifecycle import lifecycle_stage
from portrait.segments.rfm import rfm_scores
from portrait.stages import Stage, StageParams, StageResult

if TYPE_CHECKING:
    from portrait.workspace import Workspace


def build_segments(ws: Workspace, as_of: date, params: StageParams) -> StageResult:
    """RFM, lifecycle and clusters of every customer of ``features``, into the warehouse
    (on Spark: :func:`portrait.segments.on_spark.build_segments_on_spark`)."""
    if params.engine is Engine.SPARK:
        from portrait.segments.on_spark import build_segments_on_spark

        return build_segments_on_spark(ws, as_of, params)
    cfg = ws.config.segments
    features = ws.table("features")
    has_money = "monetary" not in feature_gaps(ws)
    rfm = rfm_scores(features, bins=cfg.rfm_bins, has_money=has_money)
    stage = lifecycle_stage(
        features, new_days=cfg.new_days, active_days=cfg.active_days, churn_days=cfg.churn_days
    )
    base = features.select("user_id", lifecycle_stage=stage)
    base = base.left_join(rfm, "user_id").drop("user_id_right")
    wanted = ["user_id", "monetary", *[c for c in CANDIDATES if c != "monetary"]]
    table = features.select(*[c for c in wanted if c in features.columns]).to_pyarrow()
    clustering = cluster_customers(table, max_clusters=cfg.max_clusters, seed=cfg.seed)
    names = [p.name for p in clustering.profiles]
    assigned = pa.table(
        {
            "user_id": table.column("user_id"),
            "cluster": pa.array(clustering.labels, pa.int64()),
            "cluster_name": pc.take(pa.array(names, pa.string()), pa.array(clustering.labels)),
        }
    )
    ws.replace_table("_clusters", assigned)
    try:
        joined = base.join(ws.table("_clusters"), "user_id")
        ws.replace_table("segments", joined.select(*OUTPUTS["segments"].names))
    finally:
        ws.con.raw_sql('DROP TABLE IF EXISTS "_clusters"')
    ws.replace_table("cluster_profiles", profiles_table(clustering))
    notes = [] if clustering.k > 1 else [Note.of("one_cluster", customers=table.num_rows)]
    return StageResult(rows=ws.count("segments"), notes=notes, chosen={"clusters": clustering.k})


def profiles_table(clustering: Clustering) -> pa.Table:
    """The ``cluster_profiles`` rows of a clustering."""
    return pa.Table.from_pylist(
        [
            {
                "cluster": p.cluster, "name": p.name, "name_zh": p.name_zh, "size": p.size,
                "share": p.share, "value_share": p.value_share,
                "traits": json.dumps(p.traits), "silhouette": clustering.silhouettes[clustering.k],
                "k": clustering.k, "silhouettes": json.dumps(clustering.silhouettes),
            }
            for p in clustering.profiles
        ],
        schema=OUTPUTS["cluster_profiles"].arrow_schema(),
    )  # fmt: skip


STAGE = Stage(
    name="segments",
    label=Label(en="segments", zh="客户分层"),
    reads=("features", "feature_gaps"),
    writes=("segments", "cluster_profiles"),
    config=("segments",),
    run=build_segments,
)


# -- facts ------------------------------------------------------------------------------------
class SegmentStats(Fact):
    """One segment (an RFM segment, a lifecycle stage or a cluster) in numbers."""

    segment: str
    label: Label
    customers: int
    #: share of the customers with a segment of this kind
    share: float
    #: share of all customers' spend (null when the shop's purchases carry no amounts)
    value_share: float | None
    avg_frequency: float | None
    avg_recency_days: float | None
    avg_monetary: float | None


class Trait(Fact):
    """A feature on which a cluster differs from the whole shop."""

    feature: str
    label: Label
    #: difference of the cluster's mean from the shop's, in standard deviations
    z: float
    mean: float | None
    shop_mean: float | None


class ClusterProfile(Fact):
    cluster: int
    label: Label
    size: int
    share: float
    value_share: float | None
    traits: list[Trait]


class ClusteringSummary(Fact):
    """How many clusters were chosen, by which score, and what each is like."""

    k: int
    silhouette: float
    #: silhouette of every number of clusters tried
    silhouettes: dict[int, float]
    clusters: list[ClusterProfile]


class GroupingTotals(Fact):
    """The averages a segment is compared with: over every customer of its grouping (the
    buyers for RFM segments, everyone for lifecycle stages and clusters)."""

    customers: int
    avg_frequency: float | None
    avg_recency_days: float | None
    avg_monetary: float | None


class SegmentReport(Fact):
    """Every grouping of the customers: RFM segments, lifecycle stages and clusters."""

    customers: int
    #: grouping (``rfm_segment``, ``lifecycle_stage``, ``cluster``) -> its customers' averages
    totals: dict[str, GroupingTotals] = {}
    rfm_segment: list[SegmentStats]
    lifecycle_stage: list[SegmentStats]
    cluster: list[SegmentStats]
    clustering: ClusteringSummary | None

    def csv_rows(self) -> list[dict[str, Any]]:
        out = []
        for grouping in ("rfm_segment", "lifecycle_stage", "cluster"):
            for s in getattr(self, grouping):
                row = s.model_dump(mode="json", exclude={"label"})
                out.append({"grouping": grouping, **row, "en": s.label.en, "zh": s.label.zh})
        return out


def _nan_none(value: float | None) -> float | None:
    return None if value is None or value != value else value


def cluster_profiles(ws: Workspace) -> ClusteringSummary | None:
    """The clusters of the last build, each with the traits that set it apart."""
    ws.require("cluster_profiles")
    rows = ws.table("cluster_profiles").order_by("cluster").to_pyarrow().to_pylist()
    if not rows:
        return None
    clusters = [
        ClusterProfile(
            cluster=r["cluster"], label=Label(en=r["name"], zh=r["name_zh"]), size=r["size"],
            share=r["share"], value_share=_nan_none(r["value_share"]),
            traits=[
                Trait(feature=name, label=FEATURES[name].label, z=z, mean=_nan_none(mean),
                      shop_mean=_nan_none(shop))
                for name, z, mean, shop in json.loads(r["traits"])
            ],
        )
        for r in rows
    ]  # fmt: skip
    first = rows[0]
    return ClusteringSummary(
        k=first["k"], silhouette=first["silhouette"],
        silhouettes={int(k): v for k, v in json.loads(first["silhouettes"]).items()},
        clusters=clusters,
    )  # fmt: skip


def segment_report(ws: Workspace) -> SegmentReport:
    """Size, value share and averages of each RFM segment, lifecycle stage and cluster."""
    ws.require("segments", "cluster_profiles")
    seg = ws.table("segments")
    f = ws.table("features").select("user_id", "monetary", "frequency", "recency_days")
    joined = seg.join(f, "user_id")
    shop = joined.aggregate(n=joined.count(), money=joined.monetary.sum()).to_pyarrow()
    n, money = shop.column("n")[0].as_py(), shop.column("money")[0].as_py()
    clustering = cluster_profiles(ws)
    cluster_labels = {c.cluster: c.label for c in clustering.clusters} if clustering else {}
    groups: dict[str, list[SegmentStats]] = {}
    totals: dict[str, GroupingTotals] = {}
    for col in ("rfm_segment", "lifecycle_stage", "cluster"):
        have = joined.filter(joined[col].notnull())
        whole = have.aggregate(
            customers=have.count(),
            avg_frequency=have.frequency.mean(),
            avg_recency_days=have.recency_days.mean(),
            avg_monetary=have.monetary.mean(),
        ).to_pyarrow().to_pylist()[0]  # fmt: skip
        totals[col] = GroupingTotals(
            customers=int(whole["customers"]), avg_frequency=_nan_none(whole["avg_frequency"]),
            avg_recency_days=_nan_none(whole["avg_recency_days"]),
            avg_monetary=_nan_none(whole["avg_monetary"]),
        )  # fmt: skip
        agg = (
            have.group_by(segment=have[col])
            .aggregate(
                customers=ibis._.count(),
                value_share=ibis._.monetary.sum() / money if money else ibis.null("float64"),
                avg_frequency=ibis._.frequency.mean(),
                avg_recency_days=ibis._.recency_days.mean(),
                avg_monetary=ibis._.monetary.mean(),
            )
            .order_by(ibis.desc("customers"))
        )
        rows = agg.to_pyarrow().to_pylist()
        grouped = sum(r["customers"] for r in rows) or 1
        groups[col] = []
        for r in rows:
            code = r.pop("segment")
            if col == "cluster":
                name = cluster_labels.get(code) or Label(en=str(code), zh=str(code))
                code = str(code)
            else:
                name = cast(Label, label(col, code))  # the column is filtered to non-null codes
            groups[col].append(
                SegmentStats(
                    segment=code,
                    label=name,
                    share=r["customers"] / grouped,
                    **cast(dict[str, Any], {k: _nan_none(v) for k, v in r.items()}),
                )  # fmt: skip
            )
    return SegmentReport(customers=n, totals=totals, clustering=clustering, **groups)
