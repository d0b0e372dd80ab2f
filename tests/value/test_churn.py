"""Churn on Online Retail, trained on one date and tested on a later one."""

from __future__ import annotations

import numpy as np
import pytest

from portrait.errors import DataError
from portrait.features import FEATURES
from portrait.value import ChurnModel, evaluate_churn
from portrait.value.churn import PURCHASE_SCORES, labelled


@pytest.fixture(scope="module")
def evaluation(retail_ws):
    return evaluate_churn(retail_ws, horizon_days=90)


@pytest.mark.slow
def test_the_model_beats_recency_and_bgnbd_on_a_later_date(evaluation):
    e = evaluation
    assert e.test_as_of > e.train_as_of
    assert (
        e.test_as_of - e.train_as_of
    ).days == 90  # the training labels end where the test starts
    m = e.metrics["model"]
    for baseline in ("recency", "p_alive", "expected", "p_purchase"):
        assert m["roc_auc"] > e.metrics[baseline]["roc_auc"], baseline
    # P(alive) ranks one-time buyers as safest; it is the weakest score of all
    assert e.metrics["p_alive"]["roc_auc"] < e.metrics["recency"]["roc_auc"]
    assert 0 < m["precision"] <= 1 and 0 < m["recall"] <= 1
    assert e.beats_baselines


@pytest.mark.slow
def test_calibration_table_covers_every_test_customer(evaluation):
    e = evaluation
    assert sum(c.customers for c in e.calibration) == e.test_customers
    observed = [c.observed for c in e.calibration]
    assert observed[-1] > observed[0] + 0.4  # the riskiest tenth churns far more than the safest
    assert {d.feature for d in e.importance} <= set(FEATURES) | set(PURCHASE_SCORES)
    assert all(d.label.en and d.label.zh for d in e.importance)


@pytest.mark.slow
def test_reasons_are_features_that_raise_the_score(retail_ws, tmp_path):
    from datetime import date

    train = labelled(retail_ws, date(2011, 6, 1), 90)
    model = ChurnModel(horizon_days=90).fit(train, train.column("churned").to_numpy())
    reasons = model.reasons(train)
    assert len(reasons) == 3
    named = [r for r in reasons[0] if r is not None]
    assert named and set(named) <= set(model.features_)
    model.save(tmp_path)
    again = ChurnModel.load(tmp_path)
    assert np.array_equal(model.predict_proba(train), again.predict_proba(train))


def test_a_churn_model_needs_both_outcomes():
    import pyarrow as pa

    t = pa.table({"user_id": [str(i) for i in range(60)], "frequency": list(range(60))})
    with pytest.raises(DataError, match="some who came back and some who did not"):
        ChurnModel().fit(t, np.ones(60))
