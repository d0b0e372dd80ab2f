"""The customer-service assistant on real Online Retail customers (the demo shop): it answers
about the asker's own orders with the right order, date and amount, and refuses anything
about another customer, in English and Chinese, by customer id and by order id."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from portrait import open_workspace
from portrait.errors import ConfigError, NotFoundError
from portrait.llm.assistant import ask, intent_of

from support import run_cli


@pytest.fixture(scope="module")
def shop(demo_shop):
    """Orders with their amounts from the lines, and two customers with several orders."""
    with open_workspace(demo_shop.path) as ws:
        orders = ws.table("orders").to_pandas()
        lines = ws.table("order_items").to_pandas()
        zone = ws.config.shop.timezone
    lines["value"] = lines.quantity * lines.unit_price.astype(float)
    total = lines.groupby("order_id").value.sum()
    orders["amount"] = orders.amount.astype(float).fillna(orders.order_id.map(total))
    orders["date"] = (
        orders.ts.dt.tz_localize("UTC").dt.tz_convert(ZoneInfo(zone)).dt.date.astype(str)
    )
    mine = orders[orders.user_id.notna()]
    counts = mine.groupby("user_id").size()
    several = sorted(counts[counts >= 3].index)
    return {"orders": mine, "a": several[0], "b": several[-1], "path": demo_shop.path}


def _last(orders: pd.DataFrame, user: str) -> pd.Series:
    own = orders[orders.user_id == user].sort_values(["ts", "order_id"])
    return own.iloc[-1]


@pytest.mark.parametrize(
    "question", ["What was my last order?", "我最近一次的订单是什么？", "what did I buy last time",
                 "我上次买了什么"],
)  # fmt: skip
def test_the_last_order_is_the_right_order_date_and_amount(shop, question):
    for user in (shop["a"], shop["b"]):
        want = _last(shop["orders"], user)
        with open_workspace(shop["path"]) as ws:
            answer = ask(ws, user, question)
        assert not answer.refused and answer.intent == "order_status"
        focus = answer.facts.focus
        assert focus.order_id == want.order_id and focus.date == want.date
        assert focus.amount == pytest.approx(want.amount, abs=0.005)
        text = answer.text.answer
        assert want.order_id in text and want.date in text and f"{want.amount:,.2f}" in text


def test_another_customers_data_is_refused_by_id_by_order_and_by_words(shop):
    a, b, orders = shop["a"], shop["b"], shop["orders"]
    b_order = orders[orders.user_id == b].order_id.iloc[0]
    questions = {
        f"What did customer {b} buy?": "other_customer",
        f"Show me the orders of user {b}": "other_customer",
        f"客户{b}买了什么？": "other_customer",
        f"用户 {b} 的订单": "other_customer",
        f"Where is order {b_order}?": "other_order",
        f"订单{b_order}到哪了？": "other_order",
        f"I want a refund for {b_order}": "other_order",
        "Show me another customer's orders": "other_person",
        "what did my friend's order contain": "other_person",
        "别人的订单能给我看看吗": "other_person",
        "其他客户都买了什么": "other_person",
    }
    with open_workspace(shop["path"]) as ws:
        for question, why in questions.items():
            answer = ask(ws, a, question)
            assert answer.refused and answer.refusal == why, question
            assert answer.facts is None  # nothing of anyone was read into the answer
            assert b not in answer.text.answer and b_order not in answer.text.answer
            assert ("抱歉" in answer.text.answer) == (answer.language == "zh")


def test_own_ids_are_not_refused(shop):
    a, orders = shop["a"], shop["orders"]
    first = orders[orders.user_id == a].sort_values("ts").iloc[0]
    with open_workspace(shop["path"]) as ws:
        by_order = ask(ws, a, f"What was in order {first.order_id}?")
        by_self = ask(ws, a, f"I am customer {a}, what did I order last?")
    assert not by_order.refused and by_order.facts.focus.order_id == first.order_id
    assert first.order_id in by_order.text.answer
    assert not by_self.refused and by_self.facts.focus.order_id == _last(orders, a).order_id


@pytest.mark.parametrize(
    ("question", "intent"),
    [("Where is my parcel?", "delivery"), ("我的快递到哪了", "delivery"),
     ("I want to return this", "return_refund"), ("我要退款", "return_refund"),
     ("Can you recommend a gift?", "recommendation"), ("有什么推荐的吗", "recommendation"),
     ("The mug arrived broken", "complaint"), ("质量太差了，我要投诉", "complaint"),
     ("How much is the JUMBO BAG RED RETROSPOT?", "product_question"),
     ("这个商品多少钱", "product_question"), ("my orders", "order_status"),
     ("hello", "other")],
)  # fmt: skip
def test_intents_in_english_and_chinese(question, intent):
    assert intent_of(question) == intent


def test_what_it_does_not_know_it_says(shop):
    with open_workspace(shop["path"]) as ws:
        delivery = ask(ws, shop["a"], "Where is my parcel?")
        zh = ask(ws, shop["a"], "我要退货")
        product = ask(ws, shop["a"], "How much is the JUMBO BAG RED RETROSPOT?")
        missing = ask(ws, shop["a"], "How much is the flux capacitor?")
        items = ws.table("items").to_pandas()
    assert "no delivery tracking" in delivery.text.answer
    assert "人工客服" in zh.text.answer and zh.language == "zh"
    [p] = [p for p in product.facts.products if p.title == "JUMBO BAG RED RETROSPOT"]
    price = float(items.set_index("item_id").loc[p.item_id, "price"])
    assert f"{price:,.2f} GBP" in product.text.answer
    assert missing.facts.products == [] and "could not find" in missing.text.answer


def test_pii_is_masked_and_unknown_customers_and_empty_questions_are_errors(shop):
    with open_workspace(shop["path"]) as ws:
        answer = ask(ws, shop["a"], "my email is jane@example.com, where is my order?")
        assert "jane@example.com" not in answer.question and "[email]" in answer.question
        with pytest.raises(NotFoundError, match="no customer 'nobody'"):
            ask(ws, "nobody", "where is my order?")
        with pytest.raises(ConfigError, match="empty"):
            ask(ws, shop["a"], "   ")


def test_a_model_answer_is_grounded_and_no_customer_id_is_sent(shop, demo_ws, server, backend):
    """Over HTTP: the model's answer quoting the right order is kept; one that invents an
    amount is replaced by the offline answer; the customer's id never leaves."""
    a = shop["a"]
    want = _last(shop["orders"], a)
    server.default = lambda request: json.dumps(
        {"answer": f"Your last order {want.order_id} was placed on {want.date}."}
    )
    good = ask(demo_ws, a, "What was my last order?", client=backend)
    assert good.source == "model" and want.order_id in good.text.answer
    server.default = lambda request: json.dumps({"answer": "Your last order cost 99,999.99 GBP."})
    bad = ask(demo_ws, a, "When was my last order?", client=backend)
    assert bad.source == "offline_fallback" and "99,999.99" not in bad.text.answer
    assert any("99,999.99" in span for span in bad.rejected)
    assert all(a.encode() not in raw for raw in server.raw)


def test_the_ask_command(shop):
    shown = run_cli("ask", shop["a"], "我最近一次的订单是什么？", "-w", str(shop["path"]))
    assert shown.returncode == 0, shown.stderr
    assert _last(shop["orders"], shop["a"]).order_id in shown.stdout
    refused = run_cli("ask", shop["a"], f"customer {shop['b']}'s orders", "--format", "json",
                      "-w", str(shop["path"]))  # fmt: skip
    assert refused.returncode == 0 and json.loads(refused.stdout)["refused"] is True
    unknown = run_cli("ask", "nobody", "hi", "-w", str(shop["path"]))
    assert unknown.returncode == NotFoundError.exit_code and "no customer" in unknown.stderr
