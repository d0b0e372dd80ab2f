"""MBG/NBD: BG/NBD with a chance of dropping out right after the first purchase too.

Batislam, E. P., Denizel, M. and Filiztekin, A. (2007), "Empirical validation and comparison
of models for customer base analysis", *International Journal of Research in Marketing*
24(3), 201-209. Unlike BG/NBD, a customer with no repeat purchase is not certainly alive,
which fits shops with many one-time buyers better.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from portrait.value._purchase import PurchaseModel, no_purchase_chance, rate_terms
from portrait.value.bgnbd import _safe_a


class ModifiedBetaGeoModel(PurchaseModel):
    """MBG/NBD (Batislam et al. 2007); the same interface and parameters as BG/NBD."""

    kind = "mbgnbd"

    @staticmethod
    def _loglik(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        a1, a3 = rate_terms(r, alpha, x, T)
        a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
        a4 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + tx)
        return a1 + a2 + np.logaddexp(a3, a4)  # type: ignore[no-any-return]

    @staticmethod
    def _dropout_log_odds(
        params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        r, alpha, a, b = params
        return np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))  # type: ignore[no-any-return]

    @staticmethod
    def _expected_if_alive(
        params: np.ndarray, t: float, x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        r, alpha, a, b = params
        a = _safe_a(a)
        z, stay = no_purchase_chance(r, alpha, t, x, T)
        return (a + b + x) / (a - 1) * (1.0 - stay * hyp2f1(r + x, b + x + 1, a + b + x, z))  # type: ignore[no-any-return]

    @staticmethod
    def _expected_new(params: np.ndarray, t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        a = _safe_a(a)
        stay = (alpha / (alpha + t)) ** r
        return b / (a - 1) * (1.0 - stay * hyp2f1(r, b + 1, a + b, t / (alpha + t)))  # type: ignore[no-any-return]
