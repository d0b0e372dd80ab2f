"""The value stage in the build: scores for every buyer, model tags, saved models, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from portrait import open_workspace
from portrait.errors import DataError
from portrait.value import load_models, rfm_summary, value_summary

from support import data_file, run_cli


@pytest.fixture(scope="module")
def shop(demo_shop):
    """The shared demo workspace, read only."""
    with open_workspace(demo_shop.path) as ws:
        yield ws


def test_every_buyer_gets_value_and_churn_scores(shop):
    ws = shop
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
    soon = v[v.next_purchase_window == "within_30d"].expected_purchases_30d.mean()
    late = v[v.next_purchase_window == "not_within_year"].expected_purchases_30d.mean()
    assert soon > late
    summary = value_summary(ws)
    assert summary.at_risk_customers == (v.churn_risk == "high").sum()
    assert summary.clv == pytest.approx(v.clv.sum())
    assert sum(t.customers for t in summary.tiers) == len(v)


def test_model_tags_and_the_profile(shop):
    ws = shop
    tags = ws.table("tags").to_pandas()
    assert {"value_tier", "churn_risk", "next_purchase_window"} <= set(tags.columns)
    assert tags.value_tier.notna().mean() > 0.95
    from portrait.profile import customer_profile

    value = ws.table("value").to_pandas().set_index("user_id")
    profile = customer_profile(ws, "12347")
    assert profile.value is not None and profile.value.currency == "GBP"
    assert profile.value.clv == pytest.approx(value.clv["12347"])
    assert profile.value.next_purchase_label is not None
    risky = value[value.churn_risk == "high"].index[0]
    profile = customer_profile(ws, risky)
    assert profile.value is not None and profile.value.churn_risk == "high"
    assert profile.value.churn_risk_label.zh == "高风险"
    reasons = profile.value.reasons
    assert reasons and all(r.label.en and r.label.zh for r in reasons)  # both languages
    assert [r.feature for r in reasons] == [
        value.loc[risky, f"churn_reason_{k}"] for k in range(1, len(reasons) + 1)
    ]
    assert any(r.typical is not None for r in reasons)


def test_saved_models_are_used_again_without_refitting(shop, demo_shop):
    ws = shop
    saved = load_models(ws)
    meta = saved.meta["purchase"]
    assert meta["as_of"] == "2011-12-10" and meta["data_to"] <= "2011-12-09"
    assert meta["portrait_version"] and meta["customers"] == ws.count("value")
    s = rfm_summary(ws, demo_shop.build.as_of).to_pandas().sort_values("user_id")
    v = ws.table("value").to_pandas().set_index("user_id").loc[s.user_id]
    again = saved.purchase.conditional_expected_purchases(90, s.frequency, s.recency, s["T"])
    assert np.allclose(again, v.expected_purchases_90d)
    assert saved.spend is not None and saved.churn is not None
    assert saved.churn.horizon_days == 90 and 0 < saved.churn.threshold_ < 1


@pytest.mark.slow
def test_cli_value_prints_the_evaluation(demo_shop):
    path = str(demo_shop.path)
    result = run_cli("value", "--calibration-end", "2011-06-30", "-w", path)
    assert result.returncode == 0, result.stderr
    for phrase in ("Saved models", "bgnbd", "MAE", "same rate as calibration",
                   "RFM-score regression", "2011-11", "ROC AUC", "recency alone",
                   "Calibration", "What drives the churn score"):  # fmt: skip
        assert phrase in result.stdout, phrase
    bad = run_cli("value", "--calibration-end", "2012-01-01", "-w", path)
    assert bad.returncode == DataError.exit_code and "holdout" in bad.stderr
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
    assert any(n.code == "no_amounts" for n in result.notes)
    # nine days of data cannot train a 90-day churn model: the BG/NBD score stands in, said so
    assert set(v.churn_model) == {"bgnbd"} and v.churn_probability.between(0, 1).all()
    assert any(n.code == "no_churn_model" for n in result.notes)
    assert any("no churn model" in n.label.en for n in result.notes)
    assert set(v.value_tier) <= {"high", "medium", "low"}
    ws.close()
