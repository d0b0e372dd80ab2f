"""A percentile rule whose threshold is the lowest value there is, so that it is true for
everyone, is reported at build (issue 11, seen problem 8)."""

from __future__ import annotations

import ibis

from portrait.tags.build import _statistics, rules_true_at_minimum, tag_expressions
from portrait.tags.catalogue import BUILT_IN


def _notes(basket_sizes: list[float]):
    features = ibis.memtable({
        "user_id": [f"U{k}" for k in range(len(basket_sizes))],
        "basket_size": basket_sizes,
    })  # fmt: skip
    tags = [t for t in BUILT_IN if t.name == "bulk_buyer"]
    assert tags and tags[0].rule is not None
    assert tags[0].rule.text == "basket_size >= p90(basket_size)"
    stats = _statistics(features, tags)
    built = features.select("user_id", **tag_expressions(features, tags, stats, set()))
    return rules_true_at_minimum(features, built, tags, stats)


def test_a_rule_true_for_everyone_is_reported():
    # 95 customers buy one item at a time: p90(basket_size) is 1, the minimum
    (note,) = _notes([1.0] * 95 + [3.0] * 5)
    assert note.code == "rule_true_for_all"
    assert note.values["tag"] == "bulk_buyer"
    assert note.values["statistic"] == "p90(basket_size)"
    assert note.values["threshold"] == 1.0 and note.values["share"] == 1.0
    assert "bulk_buyer" in note.label.en and "p90(basket_size) is 1" in note.label.en
    assert "100%" in note.label.en and "bulk_buyer" in note.label.zh


def test_a_rule_that_selects_some_is_not():
    assert _notes([float(k % 10 + 1) for k in range(100)]) == []
