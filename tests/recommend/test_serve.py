"""Recommendations stored by the build: filters, cold start, reasons, the CLI."""

from __future__ import annotations

import pytest

from portrait import open_workspace
from portrait.errors import NotFoundError
from portrait.labels import LABELS
from portrait.pipeline import build
from portrait.recommend import recommendations_for

from support import copy_workspace, run_cli


@pytest.fixture(scope="module")
def shop(demo_shop, tmp_path_factory):
    ws = copy_workspace(open_workspace(demo_shop.path), tmp_path_factory.mktemp("r"))
    # two best sellers go out of stock; the recommend stage must drop them
    ws.con.raw_sql("UPDATE items SET in_stock = false WHERE item_id IN ('85123A', '22423')")
    build(ws, stages=["recommend"], force=True)
    yield ws
    ws.close()


def test_every_customer_gets_a_full_list_with_reasons(shop):
    recs = shop.table("recommendations").to_pandas()
    known = shop.table("features").to_pandas().user_id
    assert set(recs.user_id) == set(known)
    n = shop.config.recommend.n
    assert (recs.groupby("user_id").size() == n).all()
    assert recs.reason.isin(list(LABELS["recommend_reason"])).all()  # a code with its words
    assert (recs.groupby("user_id")["rank"].apply(lambda r: list(r) == list(range(1, n + 1)))).all()
    # customers who never bought are served by their segment's best sellers
    prospects = shop.table("features").filter(lambda t: t.frequency == 0).to_pandas().user_id
    assert set(recs[recs.user_id.isin(prospects)].source) == {"segment"}


def test_business_filters(shop):
    recs = shop.table("recommendations").to_pandas()
    assert not recs.item_id.isin(["85123A", "22423"]).any()  # out of stock
    items = shop.table("items").to_pandas()
    fees = set(items[items.is_merchandise == False].item_id)  # noqa: E712
    assert fees and not recs.item_id.isin(fees).any()  # postage, fees
    lines = shop.con.sql(
        "SELECT DISTINCT o.user_id, l.item_id FROM orders o JOIN order_items l USING (order_id) "
        "WHERE o.status = 'completed' AND o.user_id IS NOT NULL"
    ).to_pandas()
    bought = set(zip(lines.user_id, lines.item_id, strict=True))
    assert not any((u, i) in bought for u, i in zip(recs.user_id, recs.item_id, strict=True))


def test_reasons_name_a_product_the_customer_bought(shop):
    recs = shop.table("recommendations").to_pandas()
    mine = recs[(recs.user_id == "12347") & (recs.source == "model")]
    assert len(mine) >= shop.config.recommend.n - 1  # one place may go to a new product
    assert (mine.reason == "bought_similar").mean() > 0.5
    # the product that explains it is one the customer really bought
    bought = (
        shop.con.sql(
            "SELECT DISTINCT l.item_id FROM order_items l JOIN orders o USING (order_id) "
            "WHERE o.user_id = '12347' AND o.status = 'completed'"
        )
        .to_pandas()
        .item_id
    )
    named = mine.anchor_item_id[mine.reason == "bought_similar"]
    assert set(named) <= set(bought)
    # and the words name it by its title, in both languages
    facts = recommendations_for(shop, "12347", n=20)
    first = next(r for r in facts.items if r.reason == "bought_similar")
    titles = dict(shop.con.sql("SELECT item_id, title FROM items").to_pandas().values)
    title = titles[first.anchor_item_id].strip()
    assert first.reason_label.en == f"like {title}, which you bought"
    assert first.reason_label.zh == f"与您买过的「{title}」相似"


@pytest.mark.slow
def test_cli_shows_a_list_and_compares_models(shop):
    ws = str(shop.path)
    shown = run_cli("recommend", "12347", "-n", "5", "-w", ws)
    assert shown.returncode == 0, shown.stderr
    assert "Recommended for 12347" in shown.stdout and "which you bought" in shown.stdout
    wrong = run_cli("recommend", "no-such-id", "-w", ws)
    assert wrong.returncode == NotFoundError.exit_code
    assert "No customer 'no-such-id'" in wrong.stderr
    compared = run_cli("recommend", "evaluate", "--models", "popularity,userknn", "-w", ws)
    assert compared.returncode == 0, compared.stderr
    for phrase in ("popularity", "userknn", "ndcg@20", "against popularity"):
        assert phrase in compared.stdout, phrase


def test_new_products_reach_customers_of_similar_ones(shop):
    recs = shop.table("recommendations").to_pandas()
    new = recs[recs.source == "new_item"]
    assert len(new) > 0 and (new.groupby("user_id").size() <= 1).all()
    assert (new.reason == "new_similar").all() and new.anchor_item_id.notna().all()
    # nobody with a customer id had bought or looked at them before
    known = (
        shop.con.sql(
            "SELECT DISTINCT l.item_id FROM order_items l JOIN orders o USING (order_id) "
            "WHERE o.user_id IS NOT NULL AND o.status = 'completed'"
        )
        .to_pandas()
        .item_id
    )
    assert not new.item_id.isin(known).any()
