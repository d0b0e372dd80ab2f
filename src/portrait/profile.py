"""One customer's portrait as facts: features, segments, value and churn with reasons, tags.

Reads what ``portrait build`` wrote (features, segments, value, tags); computes nothing new,
so a profile is one lookup per table. The CLI prints it, the API returns it as JSON, and the
LLM layer writes personas from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from portrait.errors import NotFoundError
from portrait.facts import Fact
from portrait.features import FEATURES
from portrait.history import person_of
from portrait.labels import Label, label
from portrait.runs import last_run
from portrait.tags import Tag, catalogue
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


@dataclass(frozen=True)
class _Build:
    """What every profile of one build shares: read once, for one profile or for all."""

    as_of: date | None
    currency: str
    clv_months: int
    churn_horizon_days: int
    tags: list[Tag]
    typical: dict[str, float | None]
    clusters: dict[int, Label]

    @classmethod
    def of(cls, ws: Workspace) -> _Build:
        run = last_run(ws, "features")
        clusters = {}
        if ws.has_table("cluster_profiles"):
            p = ws.table("cluster_profiles").select("cluster", "name", "name_zh")
            clusters = {r["cluster"]: Label(en=r["name"], zh=r["name_zh"])
                        for r in p.to_pyarrow().to_pylist()}  # fmt: skip
        cfg = ws.config
        return cls(
            as_of=run.as_of.date() if run is not None and run.as_of is not None else None,
            currency=cfg.shop.currency, clv_months=cfg.value.clv_months,
            churn_horizon_days=cfg.value.churn_horizon_days, tags=catalogue(cfg),
            typical=_typical(ws), clusters=clusters,
        )  # fmt: skip


def _value(
    build: _Build, v: dict[str, Any] | None, features: dict[str, Any]
) -> CustomerValue | None:
    if v is None:
        return None
    reasons = []
    if v["churn_risk"] in ("medium", "high"):
        for k in (1, 2, 3):
            name = v.get(f"churn_reason_{k}")
            if not name:
                continue
            feature = FEATURES.get(name)
            reasons.append(
                ChurnReason(feature=name, label=input_label(name),
                            value=_number(features.get(name, v.get(name))),
                            typical=_number(build.typical.get(name)),
                            unit=feature.unit if feature else "probability")
            )  # fmt: skip
    return CustomerValue(
        currency=build.currency, clv_months=build.clv_months, clv=_number(v["clv"]),
        value_tier=v["value_tier"], value_tier_label=label("value_tier", v["value_tier"]),
        p_alive=_number(v["p_alive"]), expected_purchases_90d=_number(v["expected_purchases_90d"]),
        next_purchase_window=v["next_purchase_window"],
        next_purchase_label=label("next_purchase_window", v["next_purchase_window"]),
        churn_horizon_days=build.churn_horizon_days,
        churn_probability=_number(v["churn_probability"]), churn_risk=v["churn_risk"],
        churn_risk_label=label("churn_risk", v["churn_risk"]), reasons=reasons,
    )  # fmt: skip


def _segments(build: _Build, s: dict[str, Any] | None) -> Segments:
    if s is None:
        return Segments()
    return Segments(
        rfm_segment=s["rfm_segment"], rfm_label=label("rfm_segment", s["rfm_segment"]),
        r_score=s["r_score"], f_score=s["f_score"], m_score=s["m_score"],
        lifecycle_stage=s["lifecycle_stage"],
        lifecycle_label=label("lifecycle_stage", s["lifecycle_stage"]),
        cluster=s["cluster"], cluster_label=build.clusters.get(s["cluster"]),
    )  # fmt: skip


def _profile(
    build: _Build,
    user_id: str,
    features: dict[str, Any],
    tags: dict[str, Any] | None,
    segments: dict[str, Any] | None,
    value: dict[str, Any] | None,
) -> CustomerProfile:
    """One customer's profile from their rows of the build's tables."""
    values = []
    for name, f in FEATURES.items():
        v = features.get(name)
        if v is None or (isinstance(v, float) and v != v):
            continue
        group: Literal["key", "behaviour", "other"] = (
            "key" if name in KEY_NUMBERS else "behaviour" if name in BEHAVIOUR else "other"
        )
        values.append(FeatureValue(name=name, label=f.label, value=v, unit=f.unit,
                                   group=group))  # fmt: skip
    tags = tags or {}
    assigned = []
    for tag in build.tags:
        v = tags.get(tag.name)
        if v is None or (tag.kind == "rule" and v is not True):
            continue
        vocabulary = tag.vocabulary
        assigned.append(
            TagAssignment(name=tag.name, kind=tag.kind, label=tag.label, value=v,
                          value_label=label(vocabulary, v) if vocabulary else None)
        )  # fmt: skip
    return CustomerProfile(
        user_id=user_id, as_of=build.as_of, features=values,
        segments=_segments(build, segments), value=_value(build, value, features),
        tags=assigned,
    )  # fmt: skip


def unknown_customer(user_id: str) -> NotFoundError:
    """The error for an id that has no profile (every reader of profiles raises this one)."""
    return NotFoundError(
        f"No customer {user_id!r} in this workspace's portraits; check the id "
        "(ids are as the shop's data writes them, e.g. 12347)."
    )


def customer_profile(ws: Workspace, user_id: str) -> CustomerProfile:
    """The profile of ``user_id``; a clear error if the build has not run or the id is unknown."""
    ws.require("features")
    user_id = person_of(ws.con, user_id)  # an alias (a per-order id) shows its person
    features = _one(ws, "features", user_id)
    if features is None:
        raise unknown_customer(user_id)
    rows = {name: _one(ws, name, user_id) for name in _JOINED}
    return _profile(_Build.of(ws), user_id, features, **rows)


#: the tables a profile reads beside ``features``, each by ``user_id``
_JOINED = ("tags", "segments", "value")


def customer_profiles(ws: Workspace, *, batch_size: int = 10_000) -> Iterator[CustomerProfile]:
    """Every customer's profile, as :func:`customer_profile` gives each, in one pass.

    The build's tables are joined once and read in batches of ``batch_size`` customers, so
    this costs a scan rather than a query per customer (what a serving store is made from).
    """
    ws.require("features")
    build = _Build.of(ws)
    joined = ws.table("features")
    present = [name for name in _JOINED if ws.has_table(name)]
    for name in present:
        other = ws.table(name).rename(f"{name}__{{name}}")
        joined = joined.left_join(other, joined.user_id == other[f"{name}__user_id"])
    for batch in joined.order_by("user_id").to_pyarrow_batches(chunk_size=batch_size):
        for row in batch.to_pylist():
            parts: dict[str, dict[str, Any]] = {name: {} for name in present}
            features = {}
            for column, v in row.items():
                table, sep, name = column.partition("__")
                if sep and table in parts:
                    parts[table][name] = v
                else:
                    features[column] = v
            rows = {name: parts[name] if parts[name].get("user_id") is not None else None
                    for name in present}  # fmt: skip
            yield _profile(build, features["user_id"], features, **rows)
