"""Audiences from words: what operators ask, in Chinese and English, read into definitions
offline; refusals that name the words not understood; and a model over HTTP whose answer is
used only when it compiles against the shop."""

from __future__ import annotations

import json
import random
import re

import pytest

from llm.conftest import ChatServer, Reply
from portrait import open_workspace
from portrait.audiences import FUNCTIONS, audience_base, compile_definition, preview
from portrait.audiences.definition import base_types
from portrait.audiences.from_text import audience_from_text, parse_audience
from portrait.errors import ConfigError
from portrait.tags import parse_rule

#: the shop's own values, as audience_from_text passes them (places, levels, categories)
NAMES = {
    "city": ["上海", "London"],
    "province": ["浙江"],
    "country": ["United Kingdom"],
    "member_level": ["金卡", "Gold"],
    "category": ["美妆", "Beauty", "Home Decor"],
}

# what operators ask, and the definition each must become
ZH = [
    ("近30天加购未下单的高价值女性用户",
     'carts_30d > 0 and orders_30d == 0 and value_tier == "high" and gender == "female"'),
    ("最近一个月下单3次以上的客户", "orders_30d >= 3"),
    ("最近三个月消费超过1000元的忠诚客户", 'monetary_90d > 1000 and rfm_segment == "Loyal"'),
    ("近一年内买过的回流用户", 'orders_365d > 0 and lifecycle_stage == "won_back"'),
    ("近7天下单且近30天浏览过", "orders_7d > 0 and views_30d > 0"),
    ("近30天收藏未加购的用户", "favs_30d > 0 and carts_30d == 0"),
    ("近30天加购3次以上但未下单", "carts_30d >= 3 and orders_30d == 0"),
    ("近90天消费1万元以上的重要价值客户",
     'monetary_90d >= 10000 and rfm_segment == "Champions"'),
    ("沉睡客户", 'rfm_segment == "Hibernating"'),
    ("即将沉睡的用户", 'rfm_segment == "About to Sleep"'),
    ("重要挽留客户", "rfm_segment == \"Can't Lose\""),
    ("有潜力的新客户", 'rfm_segment == "Promising"'),
    ("高流失风险的高价值客户", 'churn_risk == "high" and value_tier == "high"'),
    ("流失风险高且客单价200元以上的用户", 'churn_risk == "high" and avg_order_value >= 200'),
    ("沉默且有流失风险的男性",
     'lifecycle_stage == "silent" and churn_risk == "high" and gender == "male"'),
    ("年龄25-35岁的女性用户", 'age between 25 and 35 and gender == "female"'),
    ("上海的活跃用户", 'city == "上海" and lifecycle_stage == "active"'),
    ("城市为上海的新客", 'city == "上海" and lifecycle_stage == "new"'),
    ("浙江的金卡会员", 'province == "浙江" and member_level == "金卡"'),
    ("物流敏感的回流用户", 'logistics_sensitive and lifecycle_stage == "won_back"'),
    ("非价格敏感的复购客户", "not price_sensitive and repeat_buyer"),
    ("从未购买的潜在客户", 'frequency == 0 and lifecycle_stage == "prospect"'),
    ("超过90天未购买的用户", "recency_days > 90"),
    ("评价过且评分3分以下", "review_count > 0 and avg_rating <= 3"),
    ("消费在500到1000元之间的用户", "monetary between 500 and 1000"),
    ("流失概率超过70%的用户", "churn_probability > 0.7"),
    ("预测价值大于500元的中价值客户", 'clv > 500 and value_tier == "medium"'),
    ("至少下单两次的低价值用户", 'frequency >= 2 and value_tier == "low"'),
    ("买过美妆的女性", "category_share('美妆') > 0 and gender == \"female\""),
    ("美妆消费占比超过30%的用户", "category_share('美妆') > 0.3"),
    ("30岁以下、近30天浏览过3次以上的用户", "age <= 30 and views_30d >= 3"),
    ("近30天活跃天数超过10天的优惠敏感客户", "active_days_30d > 10 and discount_seeker"),
    ("近30天活跃但从没买过的用户", "active_days_30d > 0 and frequency == 0"),
    ("近90天消费前20%的用户", "monetary_90d >= p80(monetary_90d)"),
    ("客单价高于平均的复购客户", "avg_order_value > mean(avg_order_value) and repeat_buyer"),
]  # fmt: skip
EN = [
    ("high-value women who carted but did not buy in the last 30 days",
     'value_tier == "high" and gender == "female" and carts_30d > 0 and orders_30d == 0'),
    ("customers who bought in the last 7 days", "orders_7d > 0"),
    ("spent over 1000 in the past 3 months", "monetary_90d > 1000"),
    ("at least 3 orders in the past year", "orders_365d >= 3"),
    ("customers who bought more than twice in the past 90 days", "orders_90d > 2"),
    ("new customers who viewed but did not buy in the last 30 days",
     'lifecycle_stage == "new" and views_30d > 0 and orders_30d == 0'),
    ("active customers who favourited in the last month",
     'lifecycle_stage == "active" and favs_30d > 0'),
    ("customers with no orders in the last 90 days", "orders_90d == 0"),
    ("women aged 25 to 35 in London",
     'gender == "female" and age between 25 and 35 and city == "London"'),
    ("churned men over 40 years old",
     'lifecycle_stage == "churned" and gender == "male" and age > 40'),
    ("Gold members in the United Kingdom",
     'member_level == "Gold" and country == "United Kingdom"'),
    ("loyal customers with an average order value over 200",
     'rfm_segment == "Loyal" and avg_order_value > 200'),
    ("Champions who haven't bought for over 60 days",
     'rfm_segment == "Champions" and recency_days > 60'),
    ("at-risk customers", 'rfm_segment == "At Risk"'),
    ("hibernating customers in London", 'rfm_segment == "Hibernating" and city == "London"'),
    ("high churn risk, high value customers", 'churn_risk == "high" and value_tier == "high"'),
    ("customers likely to churn", 'churn_risk == "high"'),
    ("3+ orders and low churn risk", 'frequency >= 3 and churn_risk == "low"'),
    ("repeat buyers who are price-sensitive", "repeat_buyer and price_sensitive"),
    ("not logistics-sensitive quality-focused customers",
     "not logistics_sensitive and quality_focused"),
    ("medium-value cart abandoners", 'value_tier == "medium" and cart_abandoner'),
    ("customers who never purchased", "frequency == 0"),
    ("customers who carted in the last 30 days but never bought",
     "carts_30d > 0 and frequency == 0"),
    ("last purchase more than 90 days ago", "recency_days > 90"),
    ("spent between 100 and 500", "monetary between 100 and 500"),
    ("bought Beauty products", "category_share('Beauty') > 0"),
    ("customers who left a review and rated below 3", "review_count > 0 and avg_rating < 3"),
    ("churn probability above 70%", "churn_probability > 0.7"),
    ("top 10% spenders in the last year", "monetary_365d >= p90(monetary_365d)"),
    ("customers active in the last 30 days who spent at least 50",
     "active_days_30d > 0 and monetary_30d >= 50"),
]  # fmt: skip
PHRASINGS = ZH + EN

# what must be refused, and the part each refusal names
REFUSED = [
    ("近30天喜欢猫的用户", "喜欢猫", "unknown"),
    ("customers who love cats", "love cats", "unknown"),
    ("高价值或女性用户", "或", "or"),
    ("high-value customers or women", "or", "or"),
    ("今年下单的女性", "今年", "calendar"),
    ("new customers this month", "this month", "calendar"),
    ("近半年买过的用户", "近半年买过", "window"),
    ("近90天浏览过的用户", "近90天浏览过", "window"),
    ("viewed in the past 2 weeks", "viewed in the past 2 weeks", "window"),
    ("近一年买过美妆的女性", "近一年买过美妆", "window"),
    ("近30天的高价值客户", "近30天", "unbound"),
]


def _same(definition: str) -> str:
    return re.sub(r"\s+", " ", definition).strip()


def test_the_table_has_enough_phrasings_in_both_languages():
    assert len(ZH) >= 25 and len(EN) >= 20 and len(PHRASINGS) >= 45
    assert len({text for text, _ in PHRASINGS}) == len(PHRASINGS)


@pytest.mark.parametrize(("text", "expected"), PHRASINGS, ids=[t for t, _ in PHRASINGS])
def test_an_operators_request_becomes_the_definition_meant(text, expected):
    parsed = parse_audience(text, names=NAMES)
    assert _same(parsed.definition) == _same(expected)
    assert parsed.not_understood == []
    assert parsed.language == ("en" if text.isascii() else "zh")
    # the definition is its phrases' conditions, each phrase taken from the request
    assert " and ".join(u.condition for u in parsed.understood) == parsed.definition
    for u in parsed.understood:
        assert all(word in text for word in u.span.split()), u


@pytest.fixture(scope="module")
def shop(demo_shop):
    with open_workspace(demo_shop.path) as ws:
        yield ws


def test_every_definition_of_the_table_compiles_on_the_demo_shop(shop):
    for text, expected in PHRASINGS:
        compiled = compile_definition(shop, expected, name="from_text")
        # it reads every name it writes: the shop has them all
        unquoted = re.sub(r"'[^']*'|\"[^\"]*\"|\b(?:p\d+|mean)\(", "", expected)
        written = set(re.findall(r"[a-z_][a-z0-9_]*", unquoted)) - {"and", "not", "between"}
        assert compiled.rule.features | {f for f, _ in compiled.rule.calls} == written, text


def test_whatever_the_words_the_definition_read_is_one_the_checker_accepts(shop):
    types = base_types(audience_base(shop))
    # the words of the table, cut at random and joined again
    pieces = [w for text, _ in PHRASINGS + [(t, "") for t, *_ in REFUSED]
              for w in re.split(r"(?<=[的且和、，,])|\s+", text) if w]  # fmt: skip
    rng = random.Random(13)
    read = 0
    for _ in range(400):
        text = rng.choice(["", " "]).join(rng.sample(pieces, rng.randint(1, 6)))
        parsed = parse_audience(text, names=NAMES)
        if parsed.definition:
            parse_rule("from_text", parsed.definition, types, functions=FUNCTIONS)
            read += 1
    assert read > 200  # most of them read something: the check is not vacuous


def test_marked_forms_are_read_without_the_shops_values():
    read = {
        "城市 上海 的女性": 'city == "上海" and gender == "female"',
        "北京市的用户": 'city == "北京"',
        "会员等级 金卡": 'member_level == "金卡"',
        "买过母婴类的用户": "category_share('母婴') > 0",
        "customers in Paris": 'city == "Paris"',
        "bought in the Garden category": "category_share('Garden') > 0",
    }
    for text, expected in read.items():
        assert parse_audience(text).definition == expected, text
    # a bare value is only a value when the shop holds it
    bare = parse_audience("买过美妆的用户")
    assert [p.span for p in bare.not_understood] == ["美妆"]


@pytest.mark.parametrize(("text", "part", "reason"), REFUSED, ids=[t for t, *_ in REFUSED])
def test_what_is_not_understood_is_named_not_dropped(text, part, reason):
    parsed = parse_audience(text, names=NAMES)
    assert [(p.span, p.reason) for p in parsed.not_understood] == [(part, reason)]


def test_a_window_the_shop_lacks_names_the_windows_there_are():
    [views] = parse_audience("近90天浏览过的用户").not_understood
    assert views.days == 90 and views.names == ["views_30d", "views"]
    assert "use views_30d or views" in views.describe()
    [orders] = parse_audience("bought in the past 6 months").not_understood
    assert orders.days == 180
    assert orders.names == ["orders_7d", "orders_30d", "orders_90d", "orders_365d", "frequency"]
    [calendar] = parse_audience("今年下单的用户").not_understood
    assert "the last 7, 30, 90 and 365 days" in calendar.describe()


# -- against the shop ---------------------------------------------------------------------
def test_a_draft_counts_exactly_the_customers_the_words_describe(shop):
    draft = audience_from_text(shop, "高价值的活跃客户")
    base = audience_base(shop)
    want = base.filter((base.value_tier == "high") & (base.lifecycle_stage == "active"))
    assert draft.definition == 'value_tier == "high" and lifecycle_stage == "active"'
    assert draft.customers == want.count().to_pyarrow().as_py() > 0
    assert draft.share == pytest.approx(draft.customers / draft.base)
    assert draft.source == "offline" and draft.model == "offline" and draft.prompt_version == ""
    assert [u.span for u in draft.understood] == ["高价值", "活跃客户"]
    assert draft.sql == preview(shop, draft.definition).sql


def test_a_draft_reads_the_shops_own_values(shop):
    draft = audience_from_text(shop, "customers in the United Kingdom who spent over 1000")
    assert draft.definition == 'country == "United Kingdom" and monetary > 1000'
    assert draft.customers > 0


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("近30天喜欢猫的用户", "'喜欢猫'"),
        ("近半年买过的用户", "'近半年买过' (there is no 180-day window"),
        ("喜欢猫", "'喜欢猫'"),
    ],
)
def test_a_request_not_understood_is_refused_naming_the_part(shop, text, named):
    with pytest.raises(ConfigError, match=re.escape(f"did not understand {named}")) as err:
        audience_from_text(shop, text)
    assert repr(text) in str(err.value) and "\n" not in str(err.value)


# -- with a model -------------------------------------------------------------------------
@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


@pytest.fixture
def model(server, monkeypatch):
    from portrait.llm.openai_backend import OpenAIBackend

    monkeypatch.setenv("PORTRAIT_TEST_LLM_KEY", "sk-test-key")
    client = OpenAIBackend(
        base_url=server.url, model="test-model", api_key_env="PORTRAIT_TEST_LLM_KEY",
        timeout=0.5, max_retries=1, concurrency=1, backoff=0.01,
    )  # fmt: skip
    yield client
    client.close()


def _answer(definition: str, not_understood: tuple[str, ...] = ()) -> Reply:
    return Reply(json.dumps({"definition": definition, "understood": [],
                             "not_understood": list(not_understood)}))  # fmt: skip


def test_a_model_answer_that_compiles_is_used(demo_ws, server, model):
    text = "近30天消费超过1000元、有流失风险的老客户"
    server.script = [_answer('monetary_30d > 1000 and churn_risk == "high" and repeat_buyer')]
    draft = audience_from_text(demo_ws, text, client=model)
    assert draft.source == "model" and draft.model == "test-model"
    assert draft.prompt_version == "v1" and draft.rejected == []
    assert draft.definition == 'monetary_30d > 1000 and churn_risk == "high" and repeat_buyer'
    assert draft.customers == preview(demo_ws, draft.definition).customers
    [request] = server.requests
    sent = "\n".join(m["content"] for m in request["messages"])
    assert text in sent and "churn_risk" in sent and "orders_30d" in sent


def test_a_model_answer_with_an_unknown_name_is_rejected_and_the_offline_reading_used(
    demo_ws, server, model
):
    text = "近30天加购未下单的高价值用户"
    server.script = [_answer("loves_cats and carts_30d > 0"), _answer("cat_lover == true")]
    draft = audience_from_text(demo_ws, text, client=model)
    assert draft.source == "offline_fallback"
    assert draft.definition == parse_audience(text).definition
    assert draft.definition == 'carts_30d > 0 and orders_30d == 0 and value_tier == "high"'
    assert any("unknown name 'loves_cats'" in r for r in draft.rejected)
    # the second request told the model what was wrong with the first answer
    assert len(server.requests) == 2
    assert "loves_cats" in server.requests[1]["messages"][-1]["content"]


def test_a_model_answer_with_a_number_the_request_does_not_write_is_rejected(
    demo_ws, server, model
):
    text = "spent over 1000 in the past 3 months"
    server.script = [_answer("monetary_90d > 5000"), _answer("monetary_90d > 1000")]
    draft = audience_from_text(demo_ws, text, client=model)
    assert draft.source == "model" and draft.definition == "monetary_90d > 1000"
    assert any("5000" in r for r in draft.rejected)


def test_a_model_answer_that_does_not_compile_here_gives_way_to_the_offline_reading(
    demo_ws, server, model
):
    # it names real names, but the demo's orders carry no discounts: no mean to compare with
    server.script = [_answer("discount_share >= mean(discount_share)")]
    draft = audience_from_text(demo_ws, "高价值的活跃客户", client=model)
    assert draft.source == "offline_fallback"
    assert draft.definition == 'value_tier == "high" and lifecycle_stage == "active"'
    assert any("discount_share has no values" in r for r in draft.rejected)


def test_what_the_model_did_not_understand_is_refused(demo_ws, server, model):
    server.script = [_answer('value_tier == "high"', ("喜欢猫",))]
    with pytest.raises(ConfigError, match="did not understand '喜欢猫'"):
        audience_from_text(demo_ws, "喜欢猫的高价值用户", client=model)
