"""Tags on real data: rule tags select what their condition says, fact tags bucket by their
edges, tags the data cannot support are empty and say why."""

from __future__ import annotations

import numpy as np
import pytest

from portrait.pipeline import build
from portrait.tags import tag_report

from support import copy_workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(retail_ws, tmp_path_factory):
    ws = copy_workspace(retail_ws, tmp_path_factory.mktemp("tags"))
    result = build(ws, stages=["features", "segments", "value", "tags"])
    tags = ws.table("tags").to_pandas().set_index("user_id")
    features = ws.table("features").to_pandas().set_index("user_id")
    yield ws, result, tags, features.loc[tags.index]
    ws.close()


def test_high_value_is_its_rule_evaluated_by_hand(built):
    _, _, tags, f = built
    spenders = f.monetary_365d[f.monetary_365d > 0]
    p80 = np.quantile(spenders, 0.8)  # percentiles of sums are over customers who spent
    expected = (f.monetary_365d >= p80) & (f.orders_90d >= 2)
    assert (tags.high_value == expected).all()
    assert 0.05 < expected.mean() < 0.2


def test_fact_tags_bucket_by_their_edges(built):
    _, _, tags, f = built
    bought = f.recency_days.notna()
    recent = bought & (f.recency_days <= 30)
    assert (tags.recency_band[recent] == "0-30 days").all()
    assert (tags.recency_band[bought & (f.recency_days > 365)] == "over a year").all()
    assert tags.recency_band[~bought].isna().all()
    assert set(tags.value_level.dropna()) == {"low", "medium", "high"}


def test_coverage_and_reasons(built):
    ws, _, tags, _ = built
    report = tag_report(ws)
    assert report.customers == len(tags)
    summary = {t.name: t for t in report.tags}
    assert summary["repeat_buyer"].coverage == pytest.approx(1.0)
    true_count = next(v.customers for v in summary["repeat_buyer"].values if v.value is True)
    assert true_count / len(tags) == pytest.approx(tags.repeat_buyer.mean())
    # Online Retail has no categories, events or discounts: those tags are empty, and say why
    assert summary["preferred_category"].coverage == 0
    assert summary["preferred_category"].empty_because == "category"
    assert summary["cart_abandoner"].empty_because == "events"
    assert summary["rfm_segment"].coverage > 0.99
    # model tags' values are codes, with their words in both languages
    tiers = {v.value: v.label for v in summary["value_tier"].values}
    assert tiers["high"].zh == "高价值"
