"""The synthetic shop: reproducible, consistent across tables, and shaped like a real shop."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from portrait.datasets import generator
from portrait.datasets.generator import WRITTEN, generate_shop
from portrait.errors import ConfigError, SchemaError
from portrait.schema import TABLES

USERS = 2_000


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    out = tmp_path_factory.mktemp("shop")
    rows = generate_shop(out, users=USERS, seed=7)
    return out, rows


@pytest.fixture(scope="module")
def db(shop):
    out, _ = shop
    con = duckdb.connect()
    for name in WRITTEN:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{out / name}.parquet')")
    yield con
    con.close()


def one(db, sql):
    return db.execute(sql).fetchone()


def test_writes_every_table_with_the_canonical_columns_and_types(shop):
    out, rows = shop
    assert set(rows) == set(WRITTEN)
    for name, spec in ((n, TABLES[n]) for n in WRITTEN):
        table = pq.read_table(out / f"{name}.parquet")
        assert table.column_names == spec.names, name
        assert table.num_rows == rows[name] > 0, name
        for col in spec.columns:
            arrow_type = table.schema.field(col.name).type
            if col.kind == "timestamp":
                assert pa.types.is_timestamp(arrow_type), col.name
            if col.kind == "decimal":
                assert arrow_type == pa.decimal128(18, 4), col.name
            if col.kind == "id":
                assert pa.types.is_string(arrow_type), col.name
    assert rows["users"] == USERS


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    for fmt in ("parquet", "csv"):
        a, b, c = tmp_path / f"a{fmt}", tmp_path / f"b{fmt}", tmp_path / f"c{fmt}"
        generate_shop(a, users=500, seed=1, fmt=fmt)
        generate_shop(b, users=500, seed=1, fmt=fmt)
        generate_shop(c, users=500, seed=2, fmt=fmt)
        for name in WRITTEN:
            file = f"{name}.{fmt}"
            assert (a / file).read_bytes() == (b / file).read_bytes(), file
            assert (a / file).read_bytes() != (c / file).read_bytes(), file


def test_a_table_does_not_depend_on_which_others_are_written(tmp_path, shop):
    out, _ = shop
    rows = generate_shop(tmp_path, users=USERS, seed=7, tables=["events", "reviews"])
    assert set(rows) == {"events", "reviews"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.parquet", "reviews.parquet"]
    for name in rows:
        assert (tmp_path / f"{name}.parquet").read_bytes() == (out / f"{name}.parquet").read_bytes()


def test_ids_are_unique(db):
    keys = {
        "users": "user_id",
        "items": "item_id",
        "events": "event_id",
        "orders": "order_id",
        "order_items": "order_id, line",
        "reviews": "review_id",
    }
    for name, key in keys.items():
        total, distinct = one(db, f"SELECT count(*), count(DISTINCT ({key})) FROM {name}")
        assert total == distinct, name


def test_references_resolve(db):
    dangling = {
        "order user": "SELECT user_id FROM orders EXCEPT SELECT user_id FROM users",
        "line order": "SELECT order_id FROM order_items EXCEPT SELECT order_id FROM orders",
        "line item": "SELECT item_id FROM order_items EXCEPT SELECT item_id FROM items",
        "event user": "SELECT user_id FROM events EXCEPT SELECT user_id FROM users",
        "event item": "SELECT item_id FROM events WHERE item_id IS NOT NULL "
        "EXCEPT SELECT item_id FROM items",
        "review item": "SELECT item_id FROM reviews EXCEPT SELECT item_id FROM order_items",
    }
    for what, sql in dangling.items():
        assert db.execute(sql).fetchall() == [], what
    # every order has lines numbered 1..n
    assert one(db, "SELECT count(*) FROM orders ANTI JOIN order_items USING (order_id)") == (0,)
    bad = """SELECT count(*) FROM (
        SELECT order_id FROM order_items GROUP BY 1 HAVING max(line) != count(*))"""
    assert one(db, bad) == (0,)
    # a review is written by someone who bought the item
    unbought = """SELECT count(*) FROM reviews r ANTI JOIN (
        SELECT o.user_id, i.item_id FROM orders o JOIN order_items i USING (order_id)
    ) b ON r.user_id = b.user_id AND r.item_id = b.item_id"""
    assert one(db, unbought) == (0,)


def test_chunks_join_up_into_one_consistent_shop(tmp_path, monkeypatch):
    monkeypatch.setattr(generator, "_CHUNK_USERS", 150)  # 4 chunks, the last one short
    rows = generate_shop(tmp_path, users=560, seed=5)
    con = duckdb.connect()
    for name in WRITTEN:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM '{tmp_path / name}.parquet'")
    assert one(con, "SELECT count(DISTINCT user_id) FROM users") == (560,)
    for name, key in [("events", "event_id"), ("orders", "order_id"), ("reviews", "review_id")]:
        assert one(con, f"SELECT count(DISTINCT {key}) FROM {name}") == (rows[name],), name
    assert one(con, "SELECT count(*) FROM orders ANTI JOIN users USING (user_id)") == (0,)
    shared = """SELECT count(*) FROM (
        SELECT session_id FROM events GROUP BY 1 HAVING count(DISTINCT user_id) > 1)"""
    assert one(con, shared) == (0,)  # a session belongs to one customer
    con.close()


def test_order_amount_is_lines_minus_discount(db):
    sql = """
        SELECT count(*), count(*) FILTER (WHERE o.discount > 0),
               max(abs(o.amount - (l.total - o.discount))),
               min(o.discount), min(o.amount), min(l.min_qty), max(l.n)
        FROM orders o JOIN (
            SELECT order_id, sum(quantity * unit_price) AS total, min(quantity) AS min_qty,
                   count(*) AS n
            FROM order_items GROUP BY order_id
        ) l USING (order_id)"""
    n, discounted, worst, min_discount, min_amount, min_qty, max_lines = one(db, sql)
    assert worst <= 0.005
    assert min_discount >= 0 and min_amount >= 0 and min_qty >= 1
    assert 0 < discounted < n  # coupons are used, but not on every order
    assert max_lines <= 4


def test_statuses_are_mostly_completed(db):
    counts = dict(db.execute("SELECT status, count(*) FROM orders GROUP BY 1").fetchall())
    assert set(counts) == {"completed", "cancelled", "returned"}
    assert counts["completed"] > 0.8 * sum(counts.values())


def test_item_popularity_is_skewed(db):
    sql = """
        WITH v AS (SELECT item_id, count(*) AS n FROM events WHERE event_type = 'view' GROUP BY 1),
             r AS (SELECT n, row_number() OVER (ORDER BY n DESC) AS rank FROM v)
        SELECT sum(n) FILTER (WHERE rank <= (SELECT count(*) FROM items) / 10) / sum(n) FROM r"""
    (top_share,) = one(db, sql)
    assert top_share > 0.4


def test_events_form_a_funnel_that_matches_the_orders(db):
    counts = dict(db.execute("SELECT event_type, count(*) FROM events GROUP BY 1").fetchall())
    assert set(counts) == {"view", "search", "fav", "cart", "order"}
    assert counts["view"] > 3 * counts["cart"] > 3 * counts["order"] > 0
    # one order event per order, same customer, time and amount
    matched = one(
        db,
        """SELECT count(*) FROM events e JOIN orders o
           ON e.user_id = o.user_id AND e.ts = o.ts AND e.value = o.amount
           WHERE e.event_type = 'order'""",
    )
    assert matched == (counts["order"],) == one(db, "SELECT count(*) FROM orders")
    # every bought item was viewed by its buyer no later than the order
    unviewed = """
        SELECT count(*) FROM orders o JOIN order_items i USING (order_id)
        ANTI JOIN events e ON e.user_id = o.user_id AND e.item_id = i.item_id
             AND e.event_type = 'view' AND e.ts <= o.ts"""
    assert one(db, unviewed) == (0,)
    searches = one(db, "SELECT count(*), count(query) FROM events WHERE event_type = 'search'")
    assert searches[0] == searches[1] > 0
    (sessions,) = one(db, "SELECT count(DISTINCT session_id) FROM events")
    assert counts["order"] < sessions < sum(counts.values()) / 2


def test_event_volume_follows_events_per_user(shop):
    _, rows = shop
    assert 9 * USERS < rows["events"] < 11 * USERS


def test_customers_buy_again_and_some_only_once(db):
    sql = """SELECT count(*), count(*) FILTER (WHERE n >= 2), count(*) FILTER (WHERE n = 1)
             FROM (SELECT user_id, count(*) AS n FROM orders GROUP BY 1)"""
    buyers, repeat, once = one(db, sql)
    assert 0.2 * USERS < buyers < 0.8 * USERS  # many customers never buy
    assert repeat > 0.15 * buyers
    assert once > 0.3 * buyers


def test_timestamps_fall_inside_the_window(db):
    lo, hi = datetime(2024, 1, 1), datetime(2024, 12, 31)
    for name in ("events", "orders", "reviews"):
        first, last = one(db, f"SELECT min(ts), max(ts) FROM {name}")
        assert lo <= first and last < hi, name
    for name in ("events", "orders", "reviews"):  # nobody acts before signing up
        early = f"SELECT count(*) FROM {name} JOIN users USING (user_id) WHERE ts < signup_ts"
        assert one(db, early) == (0,), name


def test_reviews_lean_positive_and_returns_are_rated_low(db):
    (mean,) = one(db, "SELECT avg(rating) FROM reviews")
    assert 3.8 < mean < 4.8
    labels = db.execute("SELECT DISTINCT rating, sentiment FROM reviews ORDER BY rating").fetchall()
    assert labels == [(1, 0), (2, 0), (3, None), (4, 1), (5, 1)]
    by_status = dict(
        db.execute(
            # a review names no order: use the customers who bought the item only once
            """WITH bought AS (
                   SELECT o.user_id, i.item_id, any_value(o.status) AS status
                   FROM orders o JOIN order_items i USING (order_id)
                   GROUP BY 1, 2 HAVING count(*) = 1)
               SELECT status, avg(rating) FROM reviews JOIN bought USING (user_id, item_id)
               GROUP BY 1"""
        ).fetchall()
    )
    assert "cancelled" not in by_status
    assert by_status["returned"] < by_status["completed"] - 1
    langs = dict(db.execute("SELECT lang, count(*) FROM reviews GROUP BY 1").fetchall())
    assert set(langs) == {"zh", "en"}


def test_catalogue_is_a_category_tree_with_brands_and_prices(db):
    tops, depth, brands, cheapest = one(
        db,
        """SELECT count(DISTINCT split_part(category, '/', 1)),
                  min(len(string_split(category, '/'))), count(DISTINCT brand), min(price)
           FROM items""",
    )
    assert tops == 10 and depth >= 2 and brands > 20 and cheapest > 0
    (ratio,) = one(
        db,
        """SELECT max(p) / min(p) FROM (
               SELECT median(price) AS p FROM items GROUP BY split_part(category, '/', 1))""",
    )
    assert ratio > 5  # electronics are dearer than books


def test_users_have_profiles_and_no_personal_data(db):
    row = one(
        db,
        """SELECT count(gender), count(birth_year), count(city), count(member_level),
                  count(phone) + count(email) + count(name) + count(address) FROM users""",
    )
    assert row == (USERS, USERS, USERS, USERS, 0)
    assert {g for (g,) in db.execute("SELECT DISTINCT gender FROM users").fetchall()} <= {
        "female",
        "male",
        "other",
    }


def test_csv_and_parquet_hold_the_same_rows(tmp_path):
    generate_shop(tmp_path / "p", users=300, seed=3, fmt="parquet")
    generate_shop(tmp_path / "c", users=300, seed=3, fmt="csv")
    for name in WRITTEN:
        expected = pq.read_table(tmp_path / "p" / f"{name}.parquet")
        header = (tmp_path / "c" / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header == ",".join(f'"{c}"' for c in TABLES[name].names)
        convert = pacsv.ConvertOptions(
            column_types=expected.schema,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        got = pacsv.read_csv(tmp_path / "c" / f"{name}.csv", convert_options=convert)
        assert got.equals(expected), name


def test_csv_timestamps_and_money_are_plain_text(tmp_path):
    generate_shop(tmp_path, users=50, fmt="csv", tables=["orders"])
    first = (tmp_path / "orders.csv").read_text(encoding="utf-8").splitlines()[1].split(",")
    ts, amount = first[2], first[4]
    assert datetime.strptime(ts, "%Y-%m-%d %H:%M:%S")
    assert amount.count(".") == 1 and len(amount.split(".")[1]) == 2


def test_bad_arguments_say_what_to_do(tmp_path):
    with pytest.raises(SchemaError, match="use one of"):
        generate_shop(tmp_path, users=10, tables=["clicks"])
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        generate_shop(tmp_path, users=10, start="yesterday")
    with pytest.raises(ConfigError, match="at least 1"):
        generate_shop(tmp_path, users=0)
