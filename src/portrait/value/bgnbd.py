"""BG/NBD: the beta-geometric/negative-binomial model of repeat purchases.

Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "'Counting Your Customers' the Easy
Way: An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275-284. The
likelihood is their equation (6), P(alive) their (11) and the conditional expectation their
(10); the parameters they publish for the CDNOW data are reproduced by the tests.

Why by hand: lifetimes, the Python library that implemented it, is in maintenance mode, and
its fit stops with a ConvergenceError on Online Retail's daily summary (the data show no
drop-out, a -> 0), one of the real cases a shop hits; pymc-marketing fits Bayesian versions
through PyMC, a heavy dependency for four parameters. The formulas are short; the tests check
them against the published CDNOW numbers and against lifetimes itself.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from portrait.value._purchase import PurchaseModel, no_purchase_chance, rate_terms


def _safe_a(a: float) -> float:
    """The conditional expectation has a removable singularity at a = 1."""
    return a + 1e-9 if abs(a - 1.0) < 1e-9 else a


class BetaGeoModel(PurchaseModel):
    """BG/NBD (Fader, Hardie and Lee 2005): purchases while alive, drop-out after a purchase.

    Parameters
    ----------
    penalizer
        L2 penalty on the parameters; 0 (plain maximum likelihood) by default.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (purchase rate ~ Gamma(r, alpha), alpha in the data's time unit),
        ``a``, ``b`` (drop-out probability ~ Beta(a, b)).
    log_likelihood_ : float
        Mean log-likelihood per customer at the estimate.

    Examples
    --------
    >>> model = BetaGeoModel().fit(frequency, recency, T)  # doctest: +SKIP
    >>> model.conditional_expected_purchases(90, frequency, recency, T)  # doctest: +SKIP
    """

    kind = "bgnbd"
    one_time_alive = True

    @staticmethod
    def _loglik(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        a1, a3 = rate_terms(r, alpha, x, T)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                x > 0,
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx),
                -np.inf,
            )
        return a1 + a2 + np.logaddexp(a3, a4)  # type: ignore[no-any-return]

    @staticmethod
    def _dropout_log_odds(
        params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        r, alpha, a, b = params
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = (
                np.log(a)
                - np.log(np.maximum(b + x - 1, 1e-300))
                + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
            )
        return np.where(x > 0, odds, -np.inf)

    @staticmethod
    def _expected_if_alive(
        params: np.ndarray, t: float, x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        r, alpha, a, b = params
        a = _safe_a(a)
        z, stay = no_purchase_chance(r, alpha, t, x, T)
        return (a + b + x - 1) / (a - 1) * (1.0 - stay * hyp2f1(r + x, b + x, a + b + x - 1, z))  # type: ignore[no-any-return]

    @staticmethod
    def _expected_new(params: np.ndarray, t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        a = _safe_a(a)
        stay = (alpha / (alpha + t)) ** r
        return (a + b - 1) / (a - 1) * (1.0 - stay * hyp2f1(r, b, a + b - 1, t / (alpha + t)))  # type: ignore[no-any-return]
