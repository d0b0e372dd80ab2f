"""Grounding: numbers, dates and names in text are looked up in the facts."""

from __future__ import annotations

import pytest

from portrait.llm import Grounds, mask_pii

FACTS = {
    "customers": 1234,
    "share": 0.1234,
    "clv": 3087.16,
    "change": -5.0,
    "name": "Champions",
    "zh": "重要价值客户",
    "day": "2011-12-09",
    "feature": "Spend in 365 days",
}
NAMES = ("Champions", "At Risk", "重要价值客户", "流失风险客户", "新客户", "有潜力的新客户")


@pytest.mark.parametrize(
    "text",
    [
        "1,234 customers", "1234 customers", "12.3% of them", "12% of them", "0.123 of them",
        "12.34 %", "3,087.16", "3,087", "3,087.2", "3.1k", "0.3万", "down 5", "-5.0",
        "on 2011-12-09", "2011年12月9日", "2011/12/09", "Champions", "重要价值客户占12.3％",
        "Spend in 365 days",
    ],
)  # fmt: skip
def test_what_the_facts_hold_passes(text):
    assert Grounds.of(FACTS, NAMES).check(text) == []


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("1,235 customers", "1,235"), ("12.4% of them", "12.4%"), ("13% of them", "13%"),
        ("3,088", "3,088"), ("3,087.1", "3,087.1"), ("twice: 2", "2"), ("0.4万", "0.4万"),
        ("on 2011-12-10", "2011-12-10"), ("like At Risk", "At Risk"),
        ("有潜力的新客户", "有潜力的新客户"), ("and 新客户", "新客户"),
    ],
)  # fmt: skip
def test_an_invented_or_changed_value_is_caught_with_its_span(text, span):
    problems = Grounds.of(FACTS, NAMES).check(text)
    assert [p.span for p in problems] == [span]


def test_a_name_inside_a_longer_known_name_is_read_once():
    facts = {"zh": "有潜力的新客户"}
    assert Grounds.of(facts, NAMES).check("有潜力的新客户") == []


def test_pii_is_masked_but_numbers_are_not():
    masked = mask_pii({"a": "mail bob@shop.cn or call 138 1234 5678", "n": 13812345678,
                       "b": ["+44 20 7946 0958"], "c": "1,234 orders"})  # fmt: skip
    assert masked == {"a": "mail [email] or call [phone]", "n": 13812345678,
                      "b": ["[phone]"], "c": "1,234 orders"}  # fmt: skip
