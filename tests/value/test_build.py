"""The value stage in the build: scores for every buyer, model tags, saved models, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from portrait.datasets.demo import run_demo
from portrait.value import load_models, rfm_summary

from support import data_file, run_cli


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    result = run_demo(tmp_path_factory.mktemp("v") / "shop")
    yield result
    result.workspace.close()


def test_every_buyer_gets_value_and_churn_scores(demo_ws):
    ws = demo_ws.workspace
    v = ws.table("value").to_pandas()
    buyers = ws.table("features").filter(lambda t: t.frequency > 0).count().execute()
    assert len(v) == buyers and v.user_id.is_unique
    assert (v.clv >= 0).all() and v.clv.notna().all()
    assert v.p_alive.between(0, 1).all() and v.churn_probability.between(0, 1).all()
    assert (v.expected_purchases_30d <= v.expected_purchases_90d + 1e-12).all()
    assert (v.expected_purchases_90d <= v.expected_purchases_365d + 1e-12).all()
    # tiers by predicted value: the top fifth is "high" and is worth the most
    shares = v.value_tier.value_counts(normalize=True)
    assert shares["high"] == pytest.approx(0.2, abs=0.01)
    assert v[v.value_tier == "high"].clv.min() >= v[v.value_tier == "medium"].clv.max()
    assert set(v.churn_model) == {"lightgbm"}
    assert set(v.churn_risk) <= {"low", "medium", "high"}
    # customers who bought recently and often are expected to buy sooner
    soon = v[v.next_purchase_window == "within 30 days"].expected_purchases_30d.mean()
    late = v[v.next_purchase_window == "not within a year"].expected_purchases_30d.mean()
    assert soon > late
    assert demo_ws.value["at_risk"]["customers"] == (v.churn_risk == "high").sum()


def test_model_tags_and_the_profile_card(demo_ws):
    ws = demo_ws.workspace
    tags = ws.table("tags").to_pandas()
    assert {"value_tier", "churn_risk", "next_purchase_window"} <= set(tags.columns)
    assert tags.value_tier.notna().mean() > 0.95
    from portrait.profile import customer_portrait

    card = customer_portrait(ws, "12347")
    rows = dict(card.sections["Value and churn risk (价值与流失风险)"])
    assert "GBP" in rows["Predicted value, next 12 months (预测12个月价值)"]
    assert "Next purchase expected (预计下次购买)" in rows
    risky = ws.table("value").filter(lambda t: t.churn_risk == "high").limit(1).to_pandas()
    card = customer_portrait(ws, risky.user_id[0])
    rows = dict(card.sections["Value and churn risk (价值与流失风险)"])
    assert "high 高风险" in rows["Churn risk, 90 days (流失风险)"]
    reasons = rows["What raises the risk most (主要流失原因)"]
    assert "typical 常见值" in reasons and " / " in reasons  # the meaning in both languages


def test_saved_models_are_used_again_without_refitting(demo_ws):
    ws = demo_ws.workspace
    saved = load_models(ws)
    meta = saved.meta["purchase"]
    assert meta["as_of"] == "2011-12-10" and meta["data_to"] <= "2011-12-09"
    assert meta["portrait_version"] and meta["customers"] == ws.count("value")
    s = rfm_summary(ws, demo_ws.build.as_of).to_pandas().sort_values("user_id")
    v = ws.table("value").to_pandas().set_index("user_id").loc[s.user_id]
    again = saved.purchase.conditional_expected_purchases(90, s.frequency, s.recency, s["T"])
    assert np.allclose(again, v.expected_purchases_90d)
    assert saved.spend is not None and saved.churn is not None
    assert saved.churn.horizon_days == 90 and 0 < saved.churn.threshold_ < 1


@pytest.mark.slow
def test_cli_value_prints_the_evaluation(demo_ws):
    ws = demo_ws.workspace
    ws.close()
    result = run_cli("value", "--calibration-end", "2011-06-30", "-w", str(ws.path))
    assert result.returncode == 0, result.stderr
    for phrase in ("Saved models", "bgnbd", "MAE per customer", "same rate as calibration",
                   "RFM-score regression", "2011-11", "ROC AUC", "recency alone",
                   "Calibration", "What drives the churn score"):  # fmt: skip
        assert phrase in result.stdout, phrase
    bad = run_cli("value", "--calibration-end", "2012-01-01", "-w", str(ws.path))
    assert bad.returncode == 2 and "holdout" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_a_log_without_prices_gets_no_made_up_value(tmp_path):
    from portrait import init_workspace
    from portrait.config import Config, ShopConfig
    from portrait.ingest import ingest
    from portrait.pipeline import build

    ws = init_workspace(tmp_path / "tb", Config(shop=ShopConfig(timezone="Asia/Shanghai")))
    ingest(ws, data_file("taobao_userbehavior/UserBehavior_user_head_814users.csv.gz"),
           preset="taobao")  # fmt: skip
    result = build(ws)
    v = ws.table("value").to_pandas()
    assert len(v) > 0 and v.clv.isna().all() and v.expected_spend.isna().all()
    assert any("no amounts" in n for n in result.notes)
    # nine days of data cannot train a 90-day churn model: the BG/NBD score stands in, said so
    assert set(v.churn_model) == {"bgnbd"} and v.churn_probability.between(0, 1).all()
    assert any("no churn model" in n for n in result.notes)
    assert set(v.value_tier) <= {"high", "medium", "low"}
    ws.close()
