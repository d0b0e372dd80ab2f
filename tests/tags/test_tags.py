"""Tags on real data: rule tags select what their condition says, fact tags bucket by their
edges, tags the data cannot support are empty and say why."""

from __future__ import annotations

import numpy as np
import pytest

from portrait.pipeline import build
from portrait.tags import summarise_tags

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(retail_ws):
    result = build(retail_ws)
    tags = retail_ws.table("tags").to_pandas().set_index("user_id")
    features = retail_ws.table("features").to_pandas().set_index("user_id")
    return retail_ws, result, tags, features.loc[tags.index]


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
    ws, result, tags, _ = built
    summary = {s.tag.name: s for s in summarise_tags(ws, result.missing)}
    assert summary["repeat_buyer"].coverage == pytest.approx(1.0)
    true_share = dict(summary["repeat_buyer"].values)[True] / len(tags)
    assert true_share == pytest.approx(tags.repeat_buyer.mean())
    # Online Retail has no categories, events or discounts: those tags are empty, and say why
    assert summary["preferred_category"].coverage == 0
    assert "no categories" in summary["preferred_category"].why_empty
    assert "no behaviour events" in summary["cart_abandoner"].why_empty
    assert summary["rfm_segment"].coverage > 0.99
