"""One customer's portrait as facts: features, segments, value and churn with reasons, tags.

Reads what ``portrait build`` wrote (features, segments, value, tags); computes nothing new,
so a profile is one lookup per table. The CLI prints it, the API returns it as JSON, and the
LLM layer writes personas from it.
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from portrait.errors import NotFoundError
from portrait.facts import Fact
from portrait.features import FEATURES
from portrait.history import person_of
from portrait.labels import Label, label
from portrait.runs import last_run
from portrait.tags import catalogue
from portrait.value import input_label

if TYPE_CHECKING:
    from portrait.workspace import Workspace

#: the features a profile leads with, in order
KEY_NUMBERS = (
    "recency_days", "frequency", "monetary", "monetary_365d", "avg_order_value",
    "inter_purchase_days", "basket_size", "cancel_rate", "discount_share", "tenure_days",
)  # fmt: skip
#: what the customer does, in order
BEHAVIOUR = (
    "views", "carts", "favs", "view_to_purchase_rate", "cart_abandonment_rate", "top_category",
    "top_category_share", "top_brand", "price_level", "peak_hour", "weekend_share",
    "active_days", "review_count", "avg_rating",
)  # fmt: skip

Value = str | bool | int | float | None


class FeatureValue(Fact):
    """A feature of the customer, with what it means."""

    name: str
    label: Label
    value: Value
    #: what it counts or measures: "orders", "money", "days", "share", "rate" ...
    unit: str
    group: Literal["key", "behaviour", "other"]


class Segments(Fact):
    """Where the customer sits in each grouping (codes, with their labels)."""

    rfm_segment: str | None = None
    rfm_label: Label | None = None
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    lifecycle_stage: str | None = None
    lifecycle_label: Label | None = None
    cluster: int | None = None
    cluster_label: Label | None = None


class ChurnReason(Fact):
    """An input that raises the customer's churn score, beside the typical customer's."""

    feature: str
    label: Label
    value: float | None
    #: the training customers' median
    typical: float | None
    unit: str


class CustomerValue(Fact):
    """Predicted value and churn risk (codes, with their labels)."""

    currency: str
    clv_months: int
    #: null when the shop's purchases carry no amounts
    clv: float | None
    value_tier: str | None
    value_tier_label: Label | None
    p_alive: float | None
    expected_purchases_90d: float | None
    next_purchase_window: str | None
    next_purchase_label: Label | None
    churn_horizon_days: int
    churn_probability: float | None
    churn_risk: str | None
    churn_risk_label: Label | None
    #: the strongest reasons, for a medium or high risk
    reasons: list[ChurnReason] = []


class TagAssignment(Fact):
    """A tag the customer has: true rule tags, and fact and model tags with a value."""

    name: str
    kind: Literal["fact", "rule", "model"]
    label: Label
    value: Value
    value_label: Label | None = None


class CustomerProfile(Fact):
    """Everything the build knows about one customer."""

    user_id: str
    as_of: date | None
    features: list[FeatureValue]
    segments: Segments
    value: CustomerValue | None
    tags: list[TagAssignment]

    def csv_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {"section": f"feature:{f.group}", "name": f.name, "value": f.value}
            for f in self.features
        ]
        seg = self.segments.model_dump(mode="json", exclude_none=True)
        rows += [{"section": "segment", "name": k, "value": v} for k, v in seg.items()
                 if not isinstance(v, dict)]  # fmt: skip
        if self.value is not None:
            val = self.value.model_dump(mode="json", exclude={"reasons"})
            rows += [{"section": "value", "name": k, "value": v} for k, v in val.items()
                     if not isinstance(v, dict)]  # fmt: skip
            rows += [{"section": "churn_reason", "name": r.feature, "value": r.value}
                     for r in self.value.reasons]  # fmt: skip
        rows += [{"section": f"tag:{t.kind}", "name": t.name, "value": t.value} for t in self.tags]
        return [{"user_id": self.user_id, **r} for r in rows]


def _one(ws: Workspace, table: str, user_id: str) -> dict[str, Any] | None:
    if not ws.has_table(table):
        return None
    t = ws.table(table)
    rows = t.filter(t.user_id == user_id).limit(1).to_pyarrow().to_pylist()
    return rows[0] if rows else None


def _number(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


def _typical(ws: Workspace) -> dict[str, float | None]:
    """The training customers' median of each churn-model input (saved with the model)."""
    path = ws.artifacts / "value" / "churn.json"
    return json.loads(path.read_text(encoding="utf-8"))["medians"] if path.exists() else {}


def _value(ws: Workspace, user_id: str, features: dict[str, Any]) -> CustomerValue | None:
    v = _one(ws, "value", user_id)
    if v is None:
        return None
    reasons = []
    if v["churn_risk"] in ("medium", "high"):
        typical = _typical(ws)
        for k in (1, 2, 3):
            name = v.get(f"churn_reason_{k}")
            if not name:
                continue
            feature = FEATURES.get(name)
            reasons.append(
                ChurnReason(feature=name, label=input_label(name),
                            value=_number(features.get(name, v.get(name))),
                            typical=_number(typical.get(name)),
                            unit=feature.unit if feature else "probability")
            )  # fmt: skip
    cfg = ws.config
    return CustomerValue(
        currency=cfg.shop.currency, clv_months=cfg.value.clv_months, clv=_number(v["clv"]),
        value_tier=v["value_tier"], value_tier_label=label("value_tier", v["value_tier"]),
        p_alive=_number(v["p_alive"]), expected_purchases_90d=_number(v["expected_purchases_90d"]),
        next_purchase_window=v["next_purchase_window"],
        next_purchase_label=label("next_purchase_window", v["next_purchase_window"]),
        churn_horizon_days=cfg.value.churn_horizon_days,
        churn_probability=_number(v["churn_probability"]), churn_risk=v["churn_risk"],
        churn_risk_label=label("churn_risk", v["churn_risk"]), reasons=reasons,
    )  # fmt: skip


def _segments(ws: Workspace, user_id: str) -> Segments:
    s = _one(ws, "segments", user_id)
    if s is None:
        return Segments()
    cluster_label = None
    if s["cluster"] is not None and ws.has_table("cluster_profiles"):
        p = ws.table("cluster_profiles")
        rows = p.filter(p.cluster == s["cluster"]).to_pyarrow().to_pylist()
        if rows:
            cluster_label = Label(en=rows[0]["name"], zh=rows[0]["name_zh"])
    return Segments(
        rfm_segment=s["rfm_segment"], rfm_label=label("rfm_segment", s["rfm_segment"]),
        r_score=s["r_score"], f_score=s["f_score"], m_score=s["m_score"],
        lifecycle_stage=s["lifecycle_stage"],
        lifecycle_label=label("lifecycle_stage", s["lifecycle_stage"]),
        cluster=s["cluster"], cluster_label=cluster_label,
    )  # fmt: skip


def customer_profile(ws: Workspace, user_id: str) -> CustomerProfile:
    """The profile of ``user_id``; a clear error if the build has not run or the id is unknown."""
    ws.require("features")
    user_id = person_of(ws.con, user_id)  # an alias (a per-order id) shows its person
    features = _one(ws, "features", user_id)
    if features is None:
        raise NotFoundError(
            f"No customer {user_id!r} in this workspace's portraits; check the id "
            "(ids are as the shop's data writes them, e.g. 12347)."
        )
    run = last_run(ws, "features")
    values = []
    for name, f in FEATURES.items():
        value = features.get(name)
        if value is None or (isinstance(value, float) and value != value):
            continue
        group: Literal["key", "behaviour", "other"] = (
            "key" if name in KEY_NUMBERS else "behaviour" if name in BEHAVIOUR else "other"
        )
        values.append(FeatureValue(name=name, label=f.label, value=value, unit=f.unit,
                                   group=group))  # fmt: skip
    tags = _one(ws, "tags", user_id) or {}
    assigned = []
    for tag in catalogue(ws.config):
        value = tags.get(tag.name)
        if value is None or (tag.kind == "rule" and value is not True):
            continue
        vocabulary = tag.vocabulary
        assigned.append(
            TagAssignment(name=tag.name, kind=tag.kind, label=tag.label, value=value,
                          value_label=label(vocabulary, value) if vocabulary else None)
        )  # fmt: skip
    return CustomerProfile(
        user_id=user_id,
        as_of=run.as_of.date() if run is not None and run.as_of is not None else None,
        features=values, segments=_segments(ws, user_id),
        value=_value(ws, user_id, features), tags=assigned,
    )  # fmt: skip
