"""Lifecycle stage: where each customer is in their relationship with the shop.

- ``prospect``: known (registered, browsing) but never bought;
- ``new``: first purchase within ``new_days``;
- ``won_back``: bought within ``active_days`` after a gap longer than ``churn_days``;
- ``active``: bought within ``active_days``;
- ``silent``: last purchase ``active_days`` to ``churn_days`` ago;
- ``churned``: no purchase for more than ``churn_days``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

#: the stages, in the order of a customer's life (labels: ``lifecycle_stage`` vocabulary)
LIFECYCLE_STAGES = ("prospect", "new", "active", "won_back", "silent", "churned")


def lifecycle_stage(
    features: ir.Table, *, new_days: int, active_days: int, churn_days: int
) -> ir.StringValue:
    f = features
    return ibis.cases(
        ((f.frequency == 0) | f.recency_days.isnull(), "prospect"),
        (f.days_since_first_purchase < new_days, "new"),
        ((f.recency_days < active_days) & (f.last_gap_days > churn_days), "won_back"),
        (f.recency_days < active_days, "active"),
        (f.recency_days <= churn_days, "silent"),
        else_="churned",
    )
