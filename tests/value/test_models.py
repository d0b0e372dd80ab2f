"""The purchase and spend models against the numbers published for the CDNOW data.

CDNOW (2,357 customers, 39 weeks of calibration) is the data Fader, Hardie and Lee fitted
BG/NBD and Gamma-Gamma on; the lifetimes package ships it, and its models are the reference
implementation the results are also compared with.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portrait.errors import DataError, NotFittedError
from portrait.value import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    customer_lifetime_value,
)


def _cdnow(name: str) -> pd.DataFrame:
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.submodule_search_locations, "pip install lifetimes"
    return pd.read_csv(Path(spec.submodule_search_locations[0]) / "datasets" / name)


@pytest.fixture(scope="module")
def cdnow():
    return _cdnow("cdnow_customers_summary.csv")


def test_bgnbd_reproduces_the_published_cdnow_fit(cdnow):
    m = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    # Fader, Hardie and Lee (2005), section 4: r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert m.params_[name] == pytest.approx(value, abs=0.001)
    assert m.log_likelihood_ * len(cdnow) == pytest.approx(-9582.4, abs=0.1)
    assert m.converged_ and not m.warnings_


@pytest.mark.filterwarnings("ignore")  # lifetimes trips pandas 3's deprecation warnings
def test_every_prediction_matches_lifetimes(cdnow):
    import lifetimes

    args = (cdnow.frequency, cdnow.recency, cdnow["T"])
    for ours, theirs in ((BetaGeoModel(), lifetimes.BetaGeoFitter()),
                         (ModifiedBetaGeoModel(), lifetimes.ModifiedBetaGeoFitter())):  # fmt: skip
        ours.fit(*args)
        theirs.fit(*args)
        for name in ("r", "alpha", "a", "b"):
            assert ours.params_[name] == pytest.approx(theirs.params_[name], rel=2e-3), name
        expected = theirs.conditional_expected_number_of_purchases_up_to_time(52, *args)
        assert ours.conditional_expected_purchases(52, *args) == pytest.approx(
            expected.to_numpy(), rel=5e-3
        )
        alive = theirs.conditional_probability_alive(*args)
        assert ours.conditional_probability_alive(*args) == pytest.approx(
            np.asarray(alive), rel=5e-3, abs=1e-6
        )
    d = _cdnow("cdnow_customers_summary_with_transactions.csv")
    repeat = d[d.x > 0]
    spend = lifetimes.GammaGammaFitter().fit(repeat.x, repeat.zbar)
    ours = GammaGammaModel().fit(d.x, d.zbar)
    assert ours.conditional_expected_average_profit(repeat.x, repeat.zbar) == pytest.approx(
        spend.conditional_expected_average_profit(repeat.x, repeat.zbar).to_numpy(), rel=1e-3
    )


def test_bgnbd_predictions_match_lifetimes(cdnow):
    m = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    head = cdnow.head(3)
    # lifetimes 0.11.3 on the same data: conditional_expected_number_of_purchases_up_to_time(39)
    # and conditional_probability_alive for customers 1-3
    expected = m.conditional_expected_purchases(39, head.frequency, head.recency, head["T"])
    assert expected == pytest.approx([1.2259104, 0.2032506, 0.1947809], rel=1e-5)
    alive = m.conditional_probability_alive(head.frequency, head.recency, head["T"])
    assert alive == pytest.approx([0.7266091, 0.2122274, 1.0], rel=1e-5)
    # FHL 2005 figure 1: a new customer buys about 1.2 times in 39 weeks
    assert m.expected_purchases(39)[0] == pytest.approx(1.195, abs=0.001)


def test_probability_of_a_purchase_is_consistent_with_alive_and_expected(cdnow):
    m = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    args = (cdnow.frequency, cdnow.recency, cdnow["T"])
    p52 = m.probability_purchase_within(52, *args)
    p13 = m.probability_purchase_within(13, *args)
    assert np.all(p13 <= p52 + 1e-12)
    assert np.all(p52 <= m.conditional_probability_alive(*args) + 1e-12)
    # one or more purchases can't be likelier than the expected count allows
    assert np.all(p52 <= m.conditional_expected_purchases(52, *args) + 1e-12)


def test_modified_bgnbd_matches_lifetimes_on_cdnow(cdnow):
    m = ModifiedBetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    # lifetimes 0.11.3 ModifiedBetaGeoFitter on CDNOW
    lifetimes = {"r": 0.5248, "alpha": 6.1830, "a": 0.8914, "b": 1.6140}
    for name, value in lifetimes.items():
        assert m.params_[name] == pytest.approx(value, rel=2e-3)
    # unlike BG/NBD, a customer without a repeat purchase may be gone
    head = cdnow.head(3)
    assert m.conditional_probability_alive(head.frequency, head.recency, head["T"])[2] < 1


def test_gamma_gamma_reproduces_the_published_cdnow_fit():
    d = _cdnow("cdnow_customers_summary_with_transactions.csv")
    g = GammaGammaModel().fit(d.x, d.zbar)
    # Fader, Hardie and Lee (2005b), "RFM and CLV": p=6.25, q=3.74, gamma=15.44
    assert g.params_["p"] == pytest.approx(6.25, abs=0.01)
    assert g.params_["q"] == pytest.approx(3.74, abs=0.01)
    assert g.params_["v"] == pytest.approx(15.44, abs=0.02)
    assert g.customers_ == int((d.x > 0).sum())  # one-time buyers carry no spend information
    repeat = d[d.x > 0].head(3)
    # lifetimes: conditional_expected_average_profit of the first three repeat buyers
    spend = g.conditional_expected_average_profit(repeat.x, repeat.zbar)
    assert spend == pytest.approx([24.658616, 18.911480, 71.462851], rel=1e-5)
    assert g.conditional_expected_average_profit([0], [0])[0] == pytest.approx(g.population_mean())


def test_clv_discounting_and_horizon(cdnow):
    m = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    args = (cdnow.frequency.head(50), cdnow.recency.head(50), cdnow["T"].head(50))
    spend = np.full(50, 20.0)
    undiscounted = customer_lifetime_value(m, *args, spend, months=12, discount_rate=0.0,
                                           unit_days=7)  # fmt: skip
    # with no discount, CLV is exactly expected purchases over the horizon times spend
    weeks = 12 * 30.4375 / 7
    assert undiscounted == pytest.approx(m.conditional_expected_purchases(weeks, *args) * 20)
    discounted = customer_lifetime_value(m, *args, spend, months=12, discount_rate=0.2,
                                         unit_days=7)  # fmt: skip
    assert np.all(discounted < undiscounted) and np.all(discounted > undiscounted / 1.2)


def test_a_model_says_how_to_use_it():
    with pytest.raises(NotFittedError, match="call fit"):
        BetaGeoModel().conditional_probability_alive([1], [1], [2])
    with pytest.raises(DataError, match="recency must lie between 0 and T"):
        BetaGeoModel().fit([1, 2], [5, 1], [3, 3])
    with pytest.raises(DataError, match="whole number"):
        BetaGeoModel().fit([1.5], [1], [3])
    with pytest.raises(DataError, match="fewer than two customers"):
        GammaGammaModel().fit([0, 0, 1], [0, 0, 10])


def test_a_shop_without_drop_out_ends_on_the_boundary_not_in_an_overflow():
    # a Poisson shop: everyone keeps buying at the same rate, nobody leaves
    rng = np.random.default_rng(1)
    t = rng.uniform(100, 300, 3000)
    lam = rng.gamma(2.0, 1 / 40, 3000)
    x = rng.poisson(lam * t)
    # last purchase: the maximum of x uniform times
    tx = np.where(x > 0, t * rng.random(3000) ** (1 / np.maximum(x, 1)), 0.0)
    m = BetaGeoModel().fit(x, tx, t)
    p = m.conditional_expected_purchases(90, x, tx, t)
    assert np.all(np.isfinite(p))
    # without drop-out, expected purchases are the posterior rate times the horizon
    r, alpha = m.params_["r"], m.params_["alpha"]
    assert p == pytest.approx((r + x) / (alpha + t) * 90, rel=0.02)


def test_saved_models_predict_the_same(cdnow):
    m = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    again = BetaGeoModel.from_dict(m.to_dict())
    args = (cdnow.frequency, cdnow.recency, cdnow["T"])
    assert np.array_equal(m.conditional_expected_purchases(10, *args),
                          again.conditional_expected_purchases(10, *args))  # fmt: skip
    with pytest.raises(DataError, match="refit"):
        GammaGammaModel.from_dict(m.to_dict())
