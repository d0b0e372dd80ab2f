"""One measured step, run in its own process by ``bench.machine.run_measured``."""

from __future__ import annotations

import sys
import time


def duckdb_load(csv: str, db: str) -> None:
    """The baseline: DuckDB's own read_csv into a table, types auto-detected."""
    import duckdb

    con = duckdb.connect(db)
    con.execute("CREATE TABLE events AS SELECT * FROM read_csv(?)", [csv])
    n = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    print(n)


def portrait_ingest(csv: str, workspace: str) -> None:
    """Portrait: map, type, validate, deduplicate and record, into a fresh workspace."""
    from portrait import init_workspace
    from portrait.ingest import ingest

    ws = init_workspace(workspace)
    report = ingest(ws, csv, table="events")
    ws.close()
    assert report.balanced
    print(report.read, report.accepted, report.duplicates, report.rejected)


def generate(out: str, users: str, events_per_user: str, seed: str) -> None:
    from portrait.datasets.generator import generate_shop

    generate_shop(out, users=int(users), events_per_user=float(events_per_user),
                  seed=int(seed), fmt="csv", tables=["events"])  # fmt: skip


def generate_shop(out: str, users: str, events_per_user: str, seed: str) -> None:
    from portrait.datasets.generator import generate_shop as generate

    generate(out, users=int(users), events_per_user=float(events_per_user), seed=int(seed),
             fmt="parquet")  # fmt: skip


def ingest_shop(shop: str, workspace: str) -> None:
    """Every table of a generated shop into a fresh workspace (Asia/Shanghai, like the data)."""
    from pathlib import Path

    from portrait import init_workspace
    from portrait.config import shop_config
    from portrait.ingest import ingest

    ws = init_workspace(workspace, shop_config(name="bench", timezone="Asia/Shanghai",
                                               currency="CNY"))  # fmt: skip
    for table in ("users", "items", "events", "orders", "order_items", "reviews"):
        report = ingest(ws, Path(shop) / f"{table}.parquet", table=table)
        assert report.balanced and report.rejected == 0, report
    ws.close()


def generate_bgnbd(out: str, users: str, seed: str) -> None:
    """Orders of a shop whose customers buy exactly as BG/NBD says (bench.value.TRUTH)."""
    from bench.value import TRUTH
    from portrait.datasets.generator import generate_shop as generate

    generate(out, users=int(users), seed=int(seed), tables=["orders"], days=730,
             start="2023-01-01", bgnbd=tuple(TRUTH.values()))  # fmt: skip


def ingest_orders(shop: str, workspace: str) -> None:
    from pathlib import Path

    from portrait import init_workspace
    from portrait.ingest import ingest

    ws = init_workspace(workspace)
    report = ingest(ws, Path(shop) / "orders.parquet", table="orders")
    assert report.balanced and report.rejected == 0, report
    ws.close()


def duckdb_rfm(workspace: str) -> None:
    """The baseline: one hand-written statement computing each buyer's RFM summary."""
    import duckdb

    con = duckdb.connect(f"{workspace}/warehouse.duckdb", read_only=True)
    n = con.execute("""
        WITH d AS (SELECT user_id, ts::DATE AS day, sum(amount)::DOUBLE AS amount FROM orders
                   WHERE status = 'completed' AND ts < TIMESTAMP '2025-01-01' GROUP BY ALL),
        f AS (SELECT user_id, min(day) AS first_day FROM d GROUP BY ALL)
        SELECT count(*) FROM (
          SELECT user_id, count(*) - 1 AS x, max(day) - min(day) AS tx,
                 DATE '2025-01-01' - min(day) AS t,
                 sum(amount) FILTER (WHERE day > first_day) / nullif(count(*) - 1, 0) AS m
          FROM d JOIN f USING (user_id) GROUP BY user_id)
    """).fetchone()[0]
    con.close()
    print(n)


def portrait_rfm(workspace: str, out: str) -> None:
    """Portrait's RFM summary (Ibis over DuckDB), saved for the fitting step."""
    from datetime import date

    import pyarrow.parquet as pq

    from portrait import open_workspace
    from portrait.value import rfm_summary

    ws = open_workspace(workspace)
    table = rfm_summary(ws, date(2025, 1, 1)).to_pyarrow()
    ws.close()
    pq.write_table(table, out)
    print(table.num_rows)


def portrait_value(summary: str) -> None:
    """BG/NBD and Gamma-Gamma fitted, then every customer scored: P(alive), expected
    purchases in 30/90/365 days, P(purchase in 90 days), expected spend and 12-month CLV."""
    import json
    import time as _time

    import numpy as np
    import pyarrow.parquet as pq

    from portrait.value import BetaGeoModel, GammaGammaModel, customer_lifetime_value
    from portrait.value._base import per_distinct

    t = pq.read_table(summary)
    x, tx, big_t = (t.column(c).to_numpy() for c in ("frequency", "recency", "T"))
    money = np.nan_to_num(t.column("monetary_value").to_numpy(zero_copy_only=False))
    t0 = _time.perf_counter()
    model = BetaGeoModel().fit(x, tx, big_t)
    spend_model = GammaGammaModel().fit(x, money)
    t1 = _time.perf_counter()
    scores = {"p_alive": per_distinct(model.conditional_probability_alive, x, tx, big_t)}
    for days in (30, 90, 365):
        scores[f"e{days}"] = per_distinct(
            lambda a, b, c, d=days: model.conditional_expected_purchases(d, a, b, c), x, tx, big_t
        )
    scores["p90"] = per_distinct(
        lambda a, b, c: model.probability_purchase_within(90, a, b, c), x, tx, big_t
    )
    spend = spend_model.conditional_expected_average_profit(x, money)
    clv = customer_lifetime_value(model, x, tx, big_t, spend, months=12)
    t2 = _time.perf_counter()
    assert np.isfinite(clv).all() and len(clv) == len(x)
    print(json.dumps({"fit_seconds": round(t1 - t0, 2), "score_seconds": round(t2 - t1, 2),
                      "customers": len(x), "bgnbd": model.params_,
                      "gamma_gamma": spend_model.params_}))  # fmt: skip


def _bench_as_of(ws) -> tuple:

    from portrait.asof import AsOf, default_as_of

    day = default_as_of(ws)
    return day, AsOf(day, ws.config.shop.timezone)


def duckdb_features(workspace: str) -> None:
    """The baseline: one hand-written statement computing the same aggregates."""
    from datetime import timedelta

    import duckdb

    from bench.features import BASELINE_SQL
    from portrait import open_workspace
    from portrait.asof import utc_of_local_midnight

    ws = open_workspace(workspace)
    day, ctx = _bench_as_of(ws)
    tz = ws.config.shop.timezone
    ws.close()
    win = {f"w{d}": utc_of_local_midnight(day - timedelta(days=d), tz) for d in (7, 30, 90, 365)}
    sql = BASELINE_SQL.format(tz=tz, cutoff=ctx.cutoff, asof=day, asof_day=ctx.day_number, **win)
    con = duckdb.connect(f"{workspace}/warehouse.duckdb")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(sql)
    print(con.execute("SELECT count(*) FROM baseline_features").fetchone()[0])
    con.execute("DROP TABLE baseline_features")
    con.close()


def portrait_build(workspace: str) -> None:
    """Portrait: every feature, segment and tag, rebuilt."""
    import time as _time

    from portrait import open_workspace
    from portrait.pipeline import build

    ws = open_workspace(workspace)
    marks = {"t": _time.perf_counter()}
    seconds = {}

    def progress(stage: str, event: str) -> None:
        if event == "start":
            marks["t"] = _time.perf_counter()
        elif event == "done":
            seconds[stage] = round(_time.perf_counter() - marks["t"], 2)

    # the stages issue 3 measures; the value models have their own benchmark
    build(ws, force=True, stages=("features", "segments", "tags"), progress=progress)
    ws.close()
    print(" ".join(f"{k}={v}" for k, v in seconds.items()))


def build_shop(workspace: str) -> None:
    """``portrait build --force --yes`` on a workspace; one JSON line per finished stage
    (printed as it finishes, so a run stopped part-way still tells what finished)."""
    import json

    from portrait import open_workspace
    from portrait.pipeline import build

    def report(run) -> None:
        print(json.dumps({"stage": run.stage, "status": run.status,
                          "seconds": round(run.seconds, 1), "rows_in": run.rows_in,
                          "rows_out": run.rows_out, "peak_memory_mb": run.peak_memory_mb},
                         default=str), flush=True)  # fmt: skip

    ws = open_workspace(workspace)
    build(ws, force=True, yes=True, on_run=report)
    ws.close()


def recommend_quality(workspace: str, sample: str, seed: str) -> None:
    """The recommend stage's ranking against the exact one, on a held-out week.

    The interactions before the last 7 days train the workspace's model (its settings);
    candidate search ranks every customer, as the stage does (timed); the exact path ranks a
    sample of the customers with interactions in the held-out week; both are scored by
    NDCG@20 and recall@20 against those interactions (items bought before left out, as the
    stage leaves them out)."""
    import json
    import time as _time
    from datetime import timedelta

    import numpy as np
    import pyarrow.compute as pc

    from portrait import open_workspace
    from portrait.asof import default_as_of, utc_of_local_midnight
    from portrait.recommend.evaluate import ranking_metrics, split_time
    from portrait.recommend.interactions import interaction_log, interactions, to_matrix
    from portrait.recommend.models import make_model

    ws = open_workspace(workspace)
    cfg = ws.config.recommend
    as_of = default_as_of(ws)
    cut = utc_of_local_midnight(as_of - timedelta(days=7), ws.config.shop.timezone)
    log = interaction_log(ws, as_of, weights=dict(cfg.weights))
    train_log, test_log = split_time(log, cut.replace(tzinfo=None))
    data = interactions(train_log)
    bought = to_matrix(train_log.filter(pc.equal(train_log.column("kind"), "buy")), data.users,
                       data.items)  # fmt: skip
    items = ws.table("items")
    bad = items.filter((items.is_merchandise == False) | (items.in_stock == False))  # noqa: E712
    blocked = np.flatnonzero(np.isin(data.items, bad.item_id.to_pyarrow().to_numpy()))
    t0 = _time.perf_counter()
    model = make_model(cfg.model, dict(cfg.params), seed=ws.config.segments.seed).fit(data.matrix)
    fit_seconds = _time.perf_counter() - t0
    users = np.arange(len(data.users))
    t0 = _time.perf_counter()
    found, _ = model.recommend(users, data.matrix, N=20, filter_items=blocked, exclude=bought,
                               exact=False)  # fmt: skip
    search_seconds = _time.perf_counter() - t0
    truth = data.rows(test_log)
    truth = truth - truth.multiply(bought > 0)  # what they had bought cannot be recommended
    truth.eliminate_zeros()
    tested = np.flatnonzero(np.diff(truth.indptr) > 0)
    rng = np.random.default_rng(int(seed))
    chosen = np.sort(rng.choice(tested, min(int(sample), len(tested)), replace=False))
    t0 = _time.perf_counter()
    exact, _ = model.recommend(chosen, data.matrix[chosen], N=20, filter_items=blocked,
                               exclude=bought[chosen], exact=True)  # fmt: skip
    exact_seconds = _time.perf_counter() - t0
    popularity = np.asarray((data.matrix > 0).sum(axis=0)).ravel()
    metrics = {}
    for name, ids in (("exact", exact), ("candidates", found[chosen])):
        m = ranking_metrics(np.where(ids >= 0, ids, 0), truth[chosen], popularity, len(users))
        metrics[name] = {k: round(m[k], 5) for k in ("ndcg@20", "recall@20", "coverage@20")}
    overlap = float(np.mean((found[chosen][:, :, None] == exact[:, None, :]).any(axis=2)))
    print(json.dumps({
        "customers": len(users), "items": len(data.items), "train_interactions": data.matrix.nnz,
        "held_out_from": str(as_of - timedelta(days=7)), "held_out_customers": len(tested),
        "sample": len(chosen), "fit_seconds": round(fit_seconds, 1),
        "candidate_search_seconds_all_customers": round(search_seconds, 1),
        "exact_seconds_sample": round(exact_seconds, 1),
        "exact_seconds_all_customers_estimated": round(exact_seconds * len(users) / len(chosen), 1),
        "metrics": metrics, "overlap_with_exact_top20": round(overlap, 4),
        "ndcg_ratio": round(metrics["candidates"]["ndcg@20"] / metrics["exact"]["ndcg@20"], 4),
    }))  # fmt: skip


if __name__ == "__main__":
    t0 = time.perf_counter()
    step, *args = sys.argv[1:]
    steps = {
        "duckdb_load": duckdb_load, "portrait_ingest": portrait_ingest, "generate": generate,
        "generate_shop": generate_shop, "ingest_shop": ingest_shop,
        "duckdb_features": duckdb_features, "portrait_build": portrait_build,
        "generate_bgnbd": generate_bgnbd, "ingest_orders": ingest_orders,
        "duckdb_rfm": duckdb_rfm, "portrait_rfm": portrait_rfm, "portrait_value": portrait_value,
        "build_shop": build_shop, "recommend_quality": recommend_quality,
    }  # fmt: skip
    steps[step](*args)
    print(f"# {step} {time.perf_counter() - t0:.2f}s", file=sys.stderr)
