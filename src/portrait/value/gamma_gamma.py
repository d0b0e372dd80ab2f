"""Gamma-Gamma: how much a customer spends per purchase, given what they have spent.

Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "RFM and CLV: Using Iso-Value Curves
for Customer Base Analysis", *Journal of Marketing Research* 42(4), 415-430, section
"Adding monetary value", and Fader and Hardie (2013), "The Gamma-Gamma Model of Monetary
Value". A customer's purchase amounts are Gamma(p, nu) with nu ~ Gamma(q, gamma) across
customers; the model is fitted on customers with at least one repeat purchase and a
positive mean amount, and assumes spend per purchase does not depend on how often one buys
(:func:`frequency_spend_correlation` checks it).
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import numpy as np
from scipy.special import gammaln

from portrait.errors import DataError
from portrait.facts import Note
from portrait.value._base import FittedModel, as_array, distinct_rows, maximise


def _inputs(frequency: Any, monetary: Any) -> tuple[np.ndarray, np.ndarray]:
    x, m = as_array(frequency, "frequency"), as_array(monetary, "monetary_value")
    if len(x) != len(m):
        raise DataError("frequency and monetary_value must have one value per customer each.")
    return x, m


class GammaGammaModel(FittedModel):
    """Spend per purchase (Fader, Hardie and Lee 2005): parameters p, q and v (gamma).

    Parameters
    ----------
    penalizer
        L2 penalty on the parameters; 0 by default.
    """

    kind = "gamma_gamma"
    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    @staticmethod
    def _loglik(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        p, q, v = params
        return (  # type: ignore[no-any-return]
            gammaln(p * x + q)
            - gammaln(p * x)
            - gammaln(q)
            + q * np.log(v)
            + (p * x - 1) * np.log(m)
            + p * x * np.log(x)
            - (p * x + q) * np.log(x * m + v)
        )

    @staticmethod
    def fittable(frequency: Any, monetary_value: Any) -> bool:
        """Whether two or more customers have a repeat purchase with a positive amount."""
        x, m = _inputs(frequency, monetary_value)
        return int(((x > 0) & (m > 0)).sum()) >= 2

    def fit(self, frequency: Any, monetary_value: Any) -> GammaGammaModel:
        """Fit on customers' repeat purchases (x) and mean amount of those purchases (m).

        Customers without a repeat purchase or with a mean amount of 0 or less (free
        orders, refunds) carry no information about spend and are left out of the fit.
        """
        x, m = _inputs(frequency, monetary_value)
        keep = (x > 0) & (m > 0)
        if keep.sum() < 2:
            raise DataError(
                "Spend cannot be modelled: fewer than two customers have a repeat purchase "
                "with a positive amount."
            )
        x, m = x[keep], m[keep]
        scale = 10.0 / float(np.median(m))  # amounts near 10 keep the search well scaled
        (ux, um), weights = distinct_rows(x, m * scale)
        params, _, ok = maximise(
            lambda p: self._loglik(p, ux, um), np.array([1.0, 1.0, 1.0]), weights,
            penalizer=self.penalizer,
        )  # fmt: skip
        params[2] /= scale
        self.params_ = dict(zip(self.param_names, (float(v) for v in params), strict=True))
        self.log_likelihood_ = float(np.mean(self._loglik(params, x, m)))
        self.customers_ = int(len(x))
        self.converged_ = ok
        self.warnings_ = [] if ok else [Note.of("not_converged", model=self.kind)]
        if params[1] <= 1:
            self.warnings_.append(Note.of("spend_spread", q=float(params[1])))
        return self

    def conditional_expected_average_profit(
        self, frequency: Any, monetary_value: Any
    ) -> np.ndarray:
        """Expected amount per future purchase: a weighted mean of the customer's own mean
        and the shop's, the weight on their own growing with their repeat purchases.

        Customers without a repeat purchase (or with a mean of 0 or less) get the shop's
        mean, p * v / (q - 1).
        """
        p, q, v = self._check_fitted()
        x, m = _inputs(frequency, monetary_value)
        known = (x > 0) & (m > 0)
        x, m = np.where(known, x, 0.0), np.where(known, m, 0.0)
        if q <= 1:
            return np.where(known, m, np.nan)
        return cast(np.ndarray, p * (v + x * m) / (p * x + q - 1))

    def population_mean(self) -> float:
        """Mean spend per purchase across customers, p * v / (q - 1) (infinite if q <= 1)."""
        p, q, v = self._check_fitted()
        return float(p * v / (q - 1)) if q > 1 else float("inf")


def frequency_spend_correlation(frequency: Any, monetary_value: Any) -> float:
    """Pearson correlation of repeat purchases and mean spend among repeat buyers.

    Gamma-Gamma assumes none; a value far from 0 (say beyond +-0.3) says the spend model's
    independence assumption does not hold for this shop.
    """
    x, m = _inputs(frequency, monetary_value)
    keep = (x > 0) & (m > 0)
    if keep.sum() < 3 or np.std(x[keep]) == 0 or np.std(m[keep]) == 0:
        return float("nan")
    return float(np.corrcoef(x[keep], m[keep])[0, 1])
