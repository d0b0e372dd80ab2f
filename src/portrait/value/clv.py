"""Customer lifetime value: expected purchases times expected spend, discounted by month.

The discounted sum of Fader, Hardie and Lee (2005, "RFM and CLV") in the discrete form
lifetimes popularised: the expected purchases of each month of the horizon (the increase of
the conditional expectation over the month) times the expected spend per purchase, divided
by (1 + monthly rate)^month, where the monthly rate is the annual discount rate's twelfth
root.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from portrait.value._purchase import PurchaseModel

#: days in an average month (365.25 / 12)
MONTH_DAYS = 30.4375


def customer_lifetime_value(
    model: PurchaseModel,
    frequency: Any,
    recency: Any,
    T: Any,
    spend: Any,
    *,
    months: int = 12,
    discount_rate: float = 0.10,
    unit_days: float = 1.0,
) -> np.ndarray:
    """Discounted value of each customer's purchases over the next ``months`` months.

    Parameters
    ----------
    model
        A fitted repeat-purchase model (times in units of ``unit_days`` days).
    frequency, recency, T
        The customers' summary, as the model was fitted on.
    spend
        Expected amount per purchase of each customer (from :class:`GammaGammaModel`).
    months
        Horizon in months.
    discount_rate
        Annual discount rate (0.10 = 10% a year).
    """
    spend = np.asarray(spend, dtype=np.float64)
    monthly = (1.0 + discount_rate) ** (1.0 / 12.0) - 1.0
    value = np.zeros(len(spend))
    before = np.zeros(len(spend))
    for month in range(1, months + 1):
        t = month * MONTH_DAYS / unit_days
        upto = model.conditional_expected_purchases(t, frequency, recency, T)
        value += (upto - before) * spend / (1.0 + monthly) ** month
        before = upto
    return value
