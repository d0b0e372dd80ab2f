"""Calibration/holdout evaluation on Online Retail (issue 4's split: 2011-06-30)."""

from __future__ import annotations

import pytest

from portrait.errors import DataError
from portrait.value import evaluate_holdout


@pytest.fixture(scope="module")
def evaluation(retail_ws):
    return evaluate_holdout(retail_ws, "2011-06-30")


@pytest.mark.slow
def test_bgnbd_beats_both_baselines_per_customer(evaluation):
    e = evaluation
    assert set(e.mae) == {"model", "same_rate", "rfm_regression"}
    assert e.mae["model"] < e.mae["same_rate"]
    assert e.mae["model"] < e.mae["rfm_regression"]
    assert e.best_method == "model"


@pytest.mark.slow
def test_the_tables_add_up(evaluation, retail_ws):
    e = evaluation
    assert e.calibration_end.isoformat() == "2011-06-30"
    assert e.holdout_end.isoformat() == "2011-12-09"
    assert e.horizon_days == 162
    assert sum(g.customers for g in e.groups) == e.customers
    assert [g.group for g in e.groups] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    # group means weighted by size give back the totals, for actuals and predictions
    assert sum(g.actual * g.customers for g in e.groups) == pytest.approx(e.actual_total)
    model_total = sum(g.predicted["model"] * g.customers for g in e.groups)
    assert model_total == pytest.approx(e.predicted_total["model"])
    assert sum(m.actual for m in e.months) == e.actual_total
    assert sum(m.predicted for m in e.months) == pytest.approx(e.predicted_total["model"])
    assert e.months[0].month == "2011-07"
    # customers who buy more in calibration buy more in the holdout, and the model sees it
    means = [g.predicted["model"] for g in e.groups]
    assert means == sorted(means)


@pytest.mark.slow
def test_the_report_says_how_far_it_misses_christmas(evaluation):
    nov = next(m for m in evaluation.months if m.month == "2011-11")
    assert nov.actual > 1.3 * nov.predicted  # the seasonal peak a stationary model misses
    assert nov.gap == pytest.approx(nov.actual / nov.predicted - 1)
    seasonal = next(n for n in evaluation.notes if n.code == "seasonal_miss")
    assert seasonal.values["month"] == "2011-11"
    assert "Christmas" in seasonal.label.en and "圣诞" in seasonal.label.zh


def test_an_empty_holdout_is_a_clear_error(retail_ws):
    with pytest.raises(DataError, match="holdout after 2011-12-09 is empty"):
        evaluate_holdout(retail_ws, "2011-12-09")
