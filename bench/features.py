"""Features benchmark: ``portrait build`` against one hand-written DuckDB query.

A generated shop (1,000,000 customers, 10 events each: 10 million events, with their orders,
lines, items and reviews) is ingested once into a workspace (cached in ``bench/work``). Then,
in the same run and on the same warehouse:

- **baseline**: one SQL statement, written by hand for DuckDB, computing the same per-customer
  aggregates as Portrait's features (RFM and its windows, order habits, basket, category and
  brand affinity, funnel, cart abandonment, time habits, reviews, tenure) into a table;
- **Portrait**: ``build(force=True)``: every feature, the RFM/lifecycle/cluster segments and
  every tag, each written to the warehouse.

Target (issue 3): Portrait at most 3x the baseline. ``--users 10000000 --events 100000000``
records the large run (finished, time, peak memory under 16 GB) without a baseline ratio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.machine import run_measured, save

WORK = Path(__file__).parent / "work"
MAX_RATIO, MAX_PEAK_GB = 3.0, 16.0

#: the hand-written baseline: the same aggregates as Portrait's features, in one statement
BASELINE_SQL = """
CREATE OR REPLACE TABLE baseline_features AS
WITH
o AS (
  SELECT user_id, order_id, ts, coalesce(status, 'completed') = 'completed' AS done,
         coalesce(status, '') IN ('cancelled', 'returned') AS cancelled,
         amount::DOUBLE AS amount, discount::DOUBLE AS discount,
         (timezone('{tz}', ts::TIMESTAMPTZ)::DATE - DATE '1970-01-01') AS day
  FROM orders WHERE user_id IS NOT NULL AND ts < TIMESTAMP '{cutoff}'
),
po AS (
  SELECT user_id,
    {asof_day} - max(day) FILTER (WHERE done) AS recency_days,
    count(*) FILTER (WHERE done) AS frequency,
    coalesce(sum(amount) FILTER (WHERE done), 0) AS monetary,
    count(*) FILTER (WHERE done AND ts >= TIMESTAMP '{w7}') AS orders_7d,
    coalesce(sum(amount) FILTER (WHERE done AND ts >= TIMESTAMP '{w7}'), 0) AS monetary_7d,
    count(*) FILTER (WHERE done AND ts >= TIMESTAMP '{w30}') AS orders_30d,
    coalesce(sum(amount) FILTER (WHERE done AND ts >= TIMESTAMP '{w30}'), 0) AS monetary_30d,
    count(*) FILTER (WHERE done AND ts >= TIMESTAMP '{w90}') AS orders_90d,
    coalesce(sum(amount) FILTER (WHERE done AND ts >= TIMESTAMP '{w90}'), 0) AS monetary_90d,
    count(*) FILTER (WHERE done AND ts >= TIMESTAMP '{w365}') AS orders_365d,
    coalesce(sum(amount) FILTER (WHERE done AND ts >= TIMESTAMP '{w365}'), 0) AS monetary_365d,
    {asof_day} - min(day) FILTER (WHERE done) AS days_since_first_purchase,
    (max(day) FILTER (WHERE done) - min(day) FILTER (WHERE done))::DOUBLE
      / nullif(count(*) FILTER (WHERE done) - 1, 0) AS inter_purchase_days,
    avg(cancelled::INT) AS cancel_rate,
    sum(discount) FILTER (WHERE done) / nullif(sum(amount + discount) FILTER (WHERE done), 0)
      AS discount_share
  FROM o GROUP BY user_id
),
gaps AS (
  SELECT user_id, nullif(max(day) - min(day), 0) AS last_gap_days FROM (
    SELECT user_id, day, row_number() OVER (PARTITION BY user_id ORDER BY day DESC) AS r
    FROM (SELECT DISTINCT user_id, day FROM o WHERE done)
  ) WHERE r <= 1 GROUP BY user_id
),
l AS (
  SELECT o.user_id, li.order_id, li.item_id, li.quantity, li.unit_price::DOUBLE AS unit_price,
         nullif(trim(split_part(i.category, '/', 1)), '') AS category, i.brand
  FROM order_items li JOIN o USING (order_id) LEFT JOIN items i USING (item_id) WHERE o.done
),
pl AS (
  SELECT user_id, sum(quantity)::DOUBLE / count(DISTINCT order_id) AS basket_size,
         count(DISTINCT item_id) AS distinct_items
  FROM l GROUP BY user_id
),
med AS (
  SELECT category, median(unit_price) AS m FROM l
  WHERE category IS NOT NULL AND unit_price > 0 GROUP BY category
),
price AS (
  SELECT user_id, avg(unit_price / m) AS price_level
  FROM l JOIN med USING (category) WHERE unit_price > 0 GROUP BY user_id
),
cat AS (
  SELECT user_id, category AS top_category, units / total AS top_category_share,
         n AS category_count FROM (
    SELECT user_id, category, units, sum(units) OVER w AS total, count(*) OVER w AS n,
           row_number() OVER (PARTITION BY user_id ORDER BY units DESC, category) AS r
    FROM (SELECT user_id, category, sum(coalesce(quantity, 1))::DOUBLE AS units
          FROM l WHERE category IS NOT NULL GROUP BY ALL)
    WINDOW w AS (PARTITION BY user_id)
  ) WHERE r = 1
),
brand AS (
  SELECT user_id, brand AS top_brand, units / total AS top_brand_share, n AS brand_count FROM (
    SELECT user_id, brand, units, sum(units) OVER w AS total, count(*) OVER w AS n,
           row_number() OVER (PARTITION BY user_id ORDER BY units DESC, brand) AS r
    FROM (SELECT user_id, brand, sum(coalesce(quantity, 1))::DOUBLE AS units
          FROM l WHERE brand IS NOT NULL GROUP BY ALL)
    WINDOW w AS (PARTITION BY user_id)
  ) WHERE r = 1
),
e AS (
  SELECT *, timezone('{tz}', ts::TIMESTAMPTZ) AS local FROM events WHERE ts < TIMESTAMP '{cutoff}'
),
funnel AS (
  SELECT user_id,
    count(*) FILTER (WHERE event_type = 'view') AS views,
    count(*) FILTER (WHERE event_type = 'view' AND ts >= TIMESTAMP '{w30}') AS views_30d,
    count(*) FILTER (WHERE event_type = 'fav') AS favs,
    count(*) FILTER (WHERE event_type = 'fav' AND ts >= TIMESTAMP '{w30}') AS favs_30d,
    count(*) FILTER (WHERE event_type = 'cart') AS carts,
    count(*) FILTER (WHERE event_type = 'cart' AND ts >= TIMESTAMP '{w30}') AS carts_30d,
    count(*) FILTER (WHERE event_type = 'order') AS purchase_events,
    count(*) FILTER (WHERE event_type = 'order' AND ts >= TIMESTAMP '{w30}') AS purchase_events_30d,
    sum(dayofweek(local) IN (0, 6)::INT)::DOUBLE / count(*) AS weekend_share,
    count(DISTINCT local::DATE) AS active_days,
    count(DISTINCT local::DATE) FILTER (WHERE local::DATE >= DATE '{asof}' - 30) AS active_days_30d
  FROM e GROUP BY user_id
),
peak AS (
  SELECT user_id, h AS peak_hour FROM (
    SELECT user_id, h, row_number() OVER (PARTITION BY user_id ORDER BY n DESC, h) AS r
    FROM (SELECT user_id, hour(local) AS h, count(*) AS n FROM e GROUP BY ALL)
  ) WHERE r = 1
),
carts AS (
  SELECT c.user_id, avg((b.user_id IS NULL)::INT) AS cart_abandonment_rate
  FROM (SELECT DISTINCT user_id, item_id FROM e WHERE event_type = 'cart' AND item_id IS NOT NULL) c
  LEFT JOIN (SELECT DISTINCT user_id, item_id FROM l) b USING (user_id, item_id)
  GROUP BY c.user_id
),
rv AS (
  SELECT user_id, count(*) AS review_count, avg(rating) AS avg_rating FROM reviews
  WHERE user_id IS NOT NULL AND ts < TIMESTAMP '{cutoff}' GROUP BY user_id
),
seen AS (
  SELECT user_id, {asof_day} - (min(timezone('{tz}', ts::TIMESTAMPTZ))::DATE - DATE '1970-01-01')
         AS tenure_days FROM (
    SELECT user_id, signup_ts AS ts FROM users WHERE signup_ts < TIMESTAMP '{cutoff}'
    UNION ALL SELECT user_id, ts FROM o
    UNION ALL SELECT user_id, ts FROM e
    UNION ALL SELECT user_id, ts FROM reviews
              WHERE user_id IS NOT NULL AND ts < TIMESTAMP '{cutoff}'
  ) GROUP BY user_id
)
SELECT seen.user_id, po.* EXCLUDE (user_id), gaps.last_gap_days,
       po.monetary / nullif(po.frequency, 0) AS avg_order_value,
       pl.* EXCLUDE (user_id), price.price_level, cat.* EXCLUDE (user_id),
       brand.* EXCLUDE (user_id), funnel.* EXCLUDE (user_id),
       funnel.carts::DOUBLE / nullif(funnel.views, 0) AS view_to_cart_rate,
       funnel.purchase_events::DOUBLE / nullif(funnel.carts, 0) AS cart_to_purchase_rate,
       funnel.purchase_events::DOUBLE / nullif(funnel.views, 0) AS view_to_purchase_rate,
       carts.cart_abandonment_rate, peak.peak_hour, rv.review_count, rv.avg_rating,
       seen.tenure_days
FROM seen
LEFT JOIN po USING (user_id) LEFT JOIN gaps USING (user_id) LEFT JOIN pl USING (user_id)
LEFT JOIN price USING (user_id) LEFT JOIN cat USING (user_id) LEFT JOIN brand USING (user_id)
LEFT JOIN funnel USING (user_id) LEFT JOIN peak USING (user_id) LEFT JOIN carts USING (user_id)
LEFT JOIN rv USING (user_id)
"""


def prepare(users: int, events_per_user: float, seed: int) -> Path:
    """Generate and ingest the shop once; later runs reuse the workspace."""
    tag = f"u{users}-e{events_per_user:g}-s{seed}"
    ws = WORK / f"ws-{tag}"
    if not (ws / "ingested").exists():
        shop = WORK / f"shop-{tag}"
        if not (shop / "events.parquet").exists():
            run_measured(["generate_shop", str(shop), str(users), str(events_per_user), str(seed)])
        run_measured(["ingest_shop", str(shop), str(ws)])
        (ws / "ingested").write_text(time.strftime("%Y-%m-%d %H:%M"), encoding="utf-8")
    return ws


def run(*, users: int, events_per_user: float, seed: int, baseline: bool) -> dict:
    ws = prepare(users, events_per_user, seed)
    result: dict = {
        "params": {"users": users, "events_per_user": events_per_user, "seed": seed,
                   "events": int(users * events_per_user)},
    }  # fmt: skip
    if baseline:
        secs, peak, out = run_measured(["duckdb_features", str(ws)])
        result["duckdb_sql"] = {"seconds": round(secs, 2), "peak_gb": round(peak, 2),
                                "rows": int(out.split()[0])}  # fmt: skip
    secs, peak, out = run_measured(["portrait_build", str(ws)])
    stages = dict(pair.split("=") for pair in out.split())
    result["portrait_build"] = {
        "seconds": round(secs, 2),
        "peak_gb": round(peak, 2),
        "stage_seconds": {k: float(v) for k, v in stages.items()},
    }
    ok = peak < MAX_PEAK_GB
    if baseline:
        result["ratio"] = round(secs / result["duckdb_sql"]["seconds"], 2)
        ok = ok and result["ratio"] <= MAX_RATIO
    result["targets"] = {"max_ratio": MAX_RATIO, "max_peak_gb": MAX_PEAK_GB}
    result["passed"] = ok
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench features", description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true", help="Portrait only (large runs)")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    result = run(users=args.users, events_per_user=args.events / args.users, seed=args.seed,
                 baseline=not args.no_baseline)  # fmt: skip
    path = save("features", result)
    print(result)
    print(f"{'PASS' if result['passed'] else 'FAIL'} -> {path}")
    return 0 if result["passed"] else 1
