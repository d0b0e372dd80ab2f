"""The whole build on Spark (local mode) against the same build on DuckDB, on a generated
shop: the same value, churn and clusters within stated tolerances, a list for every
customer, and no stage collecting more than a bounded sample to the driver.

Tolerances (relative):

- P(alive), expected purchases and P(purchase in 90 days): 1e-9. The summaries are
  identical, the purchase model is fitted on the same triples, and every customer is
  scored by the same functions.
- The churn probability, given the same booster and the same inputs: 1e-9 (the DuckDB
  build's saved models score its own inputs on Spark's executors). End to end, the
  booster is trained on the same MD5-sampled snapshots, but features that are float
  averages (``price_level``) can differ in their last bit between the engines, which
  moves LightGBM's histogram bins and so a few splits: the mean absolute difference must
  stay under 0.01, the largest under 0.1, and the risk band agree for 98% of buyers (equal
  when the features are).
- Expected spend and CLV: 2e-5. Gamma-Gamma is fitted on the customers' mean amounts, which
  the two engines sum in another order (differences in the 13th digit), and its maximum
  likelihood search stops a few 1e-6 apart on such inputs.
- Value tiers: the same but for customers tied at a tier's edge (DuckDB splits a tie by
  row order, Spark keeps it whole).
- Clusters: the same for at least 99.9% of customers (the same sample, scaling and centres;
  a customer almost exactly between two centres could fall either way).
"""

from __future__ import annotations

import math
import shutil
import time
from typing import Any

import pyarrow as pa
import pytest

from portrait import init_workspace, open_workspace
from portrait.config import shop_config
from portrait.datasets.generator import generate_shop
from portrait.ingest import ingest
from portrait.pipeline import STAGES, build
from portrait.value import rfm_summary

pytestmark = [pytest.mark.slow, pytest.mark.spark]

CUSTOMERS, ITEMS = 4_000, 200
#: every sample the build draws is capped at this for the test, far below the customers
#: (and the buyers, ~1,600): a stage that collected all of either would break the bound
CAP = 1_000
EXACT, SPEND = 1e-9, 2e-5


def _caps(mp: pytest.MonkeyPatch) -> None:
    from portrait import spark
    from portrait.segments import clusters
    from portrait.text import on_spark as text
    from portrait.value import churn
    from portrait.value import on_spark as value

    mp.setattr(clusters, "_FIT_SAMPLE", CAP)
    mp.setattr(clusters, "_SCORE_SAMPLE", CAP // 2)
    mp.setattr(clusters, "_FINAL_SAMPLE", CAP)
    mp.setattr(churn, "MAX_TRAIN_CUSTOMERS", CAP)
    mp.setattr(value, "MAX_SPEND_CUSTOMERS", CAP)
    mp.setattr(text, "MAX_SHOP_REVIEWS", CAP)
    mp.setattr(text, "MAX_TEXT_FIT", CAP)
    # two cores: two shuffle partitions, not eight tasks of a few rows each
    mp.setitem(spark._SQL_CONF, "spark.sql.shuffle.partitions", "2")


def _rows(result: Any) -> int:
    if isinstance(result, list):
        return sum(getattr(r, "num_rows", 1) for r in result)
    return int(getattr(result, "num_rows", None) or len(result))


def _record(mp: pytest.MonkeyPatch, collects: list[tuple[str, int]]) -> None:
    """Wrap every way a Spark DataFrame comes to the driver, recording the rows of each."""
    from pyspark.sql.classic.dataframe import DataFrame

    for name in ("collect", "toPandas", "toArrow", "_collect_as_arrow"):
        if not hasattr(DataFrame, name):
            continue
        original = getattr(DataFrame, name)

        def wrapped(self: Any, *args: Any, _original: Any = original, _name: str = name,
                    **kwargs: Any) -> Any:  # fmt: skip
            result = _original(self, *args, **kwargs)
            collects.append((_name, _rows(result)))
            return result

        mp.setattr(DataFrame, name, wrapped)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One generated shop built on DuckDB and, from a copy of it, on Spark."""
    root = tmp_path_factory.mktemp("spark_build")
    generate_shop(root / "shop", users=CUSTOMERS, items=ITEMS, seed=3)
    config = shop_config(name="t", timezone="Asia/Shanghai", currency="CNY")
    # at most 4 clusters: the customers per item in each cluster stay under the cap
    segments = config.segments.model_copy(update={"max_clusters": 4})
    # a small ALS: the test is of where the work runs, not of the lists' quality
    recommend = config.recommend.model_copy(update={"params": {"factors": 16, "iterations": 5}})
    config = config.model_copy(update={"segments": segments, "recommend": recommend})
    ws = init_workspace(root / "duck", config)
    for table in ("users", "items", "events", "orders", "order_items", "reviews"):
        ingest(ws, root / "shop" / f"{table}.parquet", table=table)
    ws.close()
    shutil.copytree(root / "duck", root / "spark")
    collects: list[tuple[str, int]] = []
    with pytest.MonkeyPatch.context() as mp:
        _caps(mp)
        duck = open_workspace(root / "duck")
        build(duck, engine="duckdb")
        on_spark = open_workspace(root / "spark")
        on_spark.engine("spark")  # the session starts outside the timed build
        _record(mp, collects)
        started = time.perf_counter()
        result = build(on_spark, engine="spark")
        seconds = time.perf_counter() - started
    yield duck, on_spark, result, collects, seconds
    duck.close()
    on_spark.close()


def _by_user(ws, name: str) -> dict[str, dict[str, Any]]:
    return {r["user_id"]: r for r in ws.table(name).to_pyarrow().to_pylist()}


def _close(a: Any, b: Any, rel: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def test_every_stage_ran_on_spark_and_wrote_spark_tables(built):
    duck, on_spark, result, _, seconds = built
    assert result.ran == list(STAGES)
    for name in ("features", "segments", "value", "tags", "recommendations",
                 "review_sentiment", "review_aspects", "user_text", "item_vectors"):  # fmt: skip
        assert (on_spark.artifacts / "spark" / "tables" / name).is_dir(), name
        kind = on_spark.con.raw_sql(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = ?", parameters=[name]
        ).fetchone()[0]
        assert kind == 1, f"{name} is not a view over Spark's files"
    print(f"Spark build: {seconds:.1f} s;", {r.stage: r.seconds for r in result.runs})


def test_value_and_churn_match_duckdb(built):
    duck, on_spark, *_ = built
    d, s = _by_user(duck, "value"), _by_user(on_spark, "value")
    assert d.keys() == s.keys() and len(d) > CAP
    worst: dict[str, float] = {}
    for column, rel in [("p_alive", EXACT), ("expected_purchases_30d", EXACT),
                        ("expected_purchases_90d", EXACT), ("expected_purchases_365d", EXACT),
                        ("p_purchase_90d", EXACT), ("expected_spend", SPEND),
                        ("clv", SPEND)]:  # fmt: skip
        off = [u for u in d if not _close(d[u][column], s[u][column], rel)]
        assert not off, f"{column} differs for {len(off)} buyers, e.g. {d[off[0]]} {s[off[0]]}"
        worst[column] = max(
            abs(d[u][column] - s[u][column]) / max(abs(d[u][column]), 1e-12)
            for u in d if d[u][column] is not None
        )  # fmt: skip
    for column in ("next_purchase_window", "churn_model"):
        assert all(d[u][column] == s[u][column] for u in d), column
    assert {r["churn_model"] for r in d.values()} == {"lightgbm"}
    churn = [abs(d[u]["churn_probability"] - s[u]["churn_probability"]) for u in d]
    worst["churn_probability (absolute, mean)"] = sum(churn) / len(churn)
    worst["churn_probability (absolute, max)"] = max(churn)
    assert sum(churn) / len(churn) < 0.01 and max(churn) < 0.1
    bands = sum(d[u]["churn_risk"] == s[u]["churn_risk"] for u in d)
    assert bands >= 0.98 * len(d)
    # a tier may differ only within a tie straddling an edge: customers of the same CLV to
    # whom DuckDB gave two tiers, by their row order
    tiers_of: dict[float, set[str]] = {}
    for r in d.values():
        tiers_of.setdefault(r["clv"], set()).add(r["value_tier"])
    differ = [u for u in d if d[u]["value_tier"] != s[u]["value_tier"]]
    assert all(len(tiers_of[d[u]["clv"]]) > 1 for u in differ), differ
    print("largest relative differences:", worst, "tiers differing (ties):", len(differ))


def test_spark_scores_duckdbs_models_on_duckdbs_inputs_exactly(built):
    """Same booster, same inputs, same scores: the executors' scoring is the DuckDB path's."""
    from portrait import spark
    from portrait.value import load_models
    from portrait.value.on_spark import Scorer, score_buyers
    from portrait.value.summary import UNIT_DAYS

    duck, on_spark, result, *_ = built
    saved = load_models(duck)
    assert saved.churn is not None
    cfg = duck.config.value
    scorer = Scorer(saved.purchase, not saved.meta["purchase"]["p_alive_withheld"],
                    saved.spend, saved.churn, UNIT_DAYS[cfg.time_unit],
                    cfg.churn_horizon_days, cfg.clv_months, cfg.discount_rate)  # fmt: skip
    session = spark.spark_session(on_spark)
    summary = session.createDataFrame(rfm_summary(duck, result.as_of).to_pyarrow())
    features = session.createDataFrame(duck.table("features").to_pyarrow())
    scored = score_buyers(on_spark, summary, features, scorer).toArrow().to_pylist()
    d = _by_user(duck, "value")
    assert len(scored) == len(d)
    for row in scored:
        mine = d[row["user_id"]]
        for column, value in row.items():
            if column in ("user_id", "_tier"):
                continue
            if isinstance(value, float):
                assert _close(value, mine[column], EXACT), (column, value, mine[column])
            else:
                assert value == mine[column], (column, value, mine[column])


def test_segments_and_clusters_match_duckdb(built):
    duck, on_spark, *_ = built
    d, s = _by_user(duck, "segments"), _by_user(on_spark, "segments")
    assert d.keys() == s.keys() and len(d) == CUSTOMERS
    for column in ("lifecycle_stage", "r_score", "f_score", "m_score", "rfm_score",
                   "rfm_segment"):  # fmt: skip
        assert all(d[u][column] == s[u][column] for u in d), column
    same = sum(d[u]["cluster"] == s[u]["cluster"] for u in d)
    assert same >= 0.999 * len(d)
    profiles = [ws.table("cluster_profiles").order_by("cluster").to_pyarrow() for ws in built[:2]]
    assert profiles[0].column("k").to_pylist() == profiles[1].column("k").to_pylist()
    print(f"clusters equal for {same} of {len(d)} customers")


def test_every_customer_has_recommendations_on_spark(built):
    _, on_spark, *_ = built
    recs = on_spark.table("recommendations")
    per = recs.group_by("user_id").aggregate(n=recs.count()).to_pyarrow()
    customers = set(on_spark.table("features").user_id.to_pyarrow().to_pylist())
    assert set(per.column("user_id").to_pylist()) == customers
    assert min(per.column("n").to_pylist()) >= 1
    reasons = set(recs.reason.to_pyarrow().to_pylist())
    assert {"bought_similar", "viewed_similar"} <= reasons


def test_no_stage_collects_more_than_a_bounded_sample(built):
    duck, _, result, collects, _ = built
    summary = rfm_summary(duck, result.as_of).to_pyarrow()
    triples = len(pa.TableGroupBy(summary, ["frequency", "recency", "T"]).aggregate([]))
    # the bound: the sample cap (the churn snapshots' MD5 sample is about CAP customers: a
    # tenth more allowed), or the distinct (x, t_x, T) the purchase model is fitted on
    bound = max(int(CAP * 1.1), triples)
    assert bound < summary.num_rows < CUSTOMERS, "the shop is too small for the check to fail"
    assert collects, "no collect was recorded: the check is not wired"
    largest = max(rows for _, rows in collects)
    assert largest <= bound, sorted(collects, key=lambda c: -c[1])[:5]
    print(
        f"{len(collects)} collects, the largest {largest} rows (bound {bound}, "
        f"{summary.num_rows} buyers, {CUSTOMERS} customers)"
    )


def test_forgetting_a_customer_rewrites_sparks_tables(built):
    """Last: it changes the Spark-built workspace. The warehouse's views over Spark's files
    cannot be deleted from; forgetting rewrites the files, and drops Spark's copies of the
    canonical tables (made again from the warehouse when Spark next runs)."""
    from portrait.privacy import forget_customer

    _, on_spark, *_ = built
    recs = on_spark.table("recommendations")
    uid = recs.filter(recs.source == "model").user_id.to_pyarrow()[0].as_py()
    report = forget_customer(on_spark, uid, requested_by="test")
    assert {"recommendations", "features", "value"} <= {t.table for t in report.tables}
    for name in on_spark.con.list_tables():
        t = on_spark.table(name)
        if "user_id" in t.columns:
            assert t.filter(t.user_id == uid).count().execute() == 0, name
    assert not list((on_spark.artifacts / "spark").glob("*.parquet"))
