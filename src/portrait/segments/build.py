"""The segments stage: RFM, lifecycle and clusters for every customer, in the warehouse.

Writes ``segments`` (one row per customer: r/f/m scores, RFM code and segment, lifecycle
stage, cluster and its name) and ``cluster_profiles`` (what sets each cluster apart).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from portrait.segments.clusters import Clustering, cluster_customers
from portrait.segments.lifecycle import lifecycle_stage
from portrait.segments.rfm import rfm_scores

if TYPE_CHECKING:
    from portrait.workspace import Workspace


def build_segments(ws: Workspace, *, missing: dict[str, str] | None = None) -> Clustering:
    cfg = ws.config.segments
    features = ws.table("features")
    has_money = "monetary" not in (missing or {})
    rfm = rfm_scores(features, bins=cfg.rfm_bins, has_money=has_money)
    stage = lifecycle_stage(
        features, new_days=cfg.new_days, active_days=cfg.active_days, churn_days=cfg.churn_days
    )
    base = features.select("user_id", lifecycle_stage=stage)
    base = base.left_join(rfm, "user_id").drop("user_id_right")
    from portrait.segments.clusters import CANDIDATES

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
        ws.replace_table("segments", base.join(ws.table("_clusters"), "user_id"))
    finally:
        ws.con.raw_sql('DROP TABLE IF EXISTS "_clusters"')
    profiles = pa.Table.from_pylist(
        [
            {
                "cluster": p.cluster, "name": p.name, "name_zh": p.name_zh, "size": p.size,
                "share": p.share, "value_share": p.value_share,
                "traits": json.dumps(p.traits), "silhouette": clustering.silhouettes[clustering.k],
                "k": clustering.k, "silhouettes": json.dumps(clustering.silhouettes),
            }
            for p in clustering.profiles
        ]
    )  # fmt: skip
    ws.replace_table("cluster_profiles", profiles)
    return clustering


def segment_table(ws: Workspace) -> dict[str, list[dict]]:
    """Size and value of each RFM segment, lifecycle stage and cluster."""
    seg = ws.table("segments")
    f = ws.table("features").select("user_id", "monetary", "frequency", "recency_days")
    joined = seg.join(f, "user_id")
    totals = joined.aggregate(n=joined.count(), money=joined.monetary.sum()).to_pyarrow()
    n, money = totals.column("n")[0].as_py(), totals.column("money")[0].as_py()
    out = {}
    for col in ("rfm_segment", "lifecycle_stage", "cluster_name"):
        agg = (
            joined.filter(joined[col].notnull())
            .group_by(segment=joined[col])
            .aggregate(
                customers=ibis._.count(),
                share=ibis._.count() / n,
                value_share=ibis._.monetary.sum() / money if money else ibis.null("float64"),
                avg_frequency=ibis._.frequency.mean(),
                avg_recency_days=ibis._.recency_days.mean(),
                avg_monetary=ibis._.monetary.mean(),
            )
            .order_by(ibis.desc("customers"))
        )
        out[col] = agg.to_pyarrow().to_pylist()
    return out
