"""One customer's portrait as a card: key numbers, segments and tags, in both languages.

Reads what ``portrait build`` wrote (features, segments, tags); computes nothing new, so a
card is one lookup per table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from portrait.errors import WorkspaceError
from portrait.features import FEATURES
from portrait.segments import SEGMENT_ZH, STAGES
from portrait.tags import catalogue

if TYPE_CHECKING:
    from portrait.workspace import Workspace

#: the numbers on the card, in order, by section
KEY_NUMBERS = (
    "recency_days", "frequency", "monetary", "monetary_365d", "avg_order_value",
    "inter_purchase_days", "basket_size", "cancel_rate", "discount_share", "tenure_days",
)  # fmt: skip
BEHAVIOUR = (
    "views", "carts", "favs", "view_to_purchase_rate", "cart_abandonment_rate", "top_category",
    "top_category_share", "top_brand", "price_level", "peak_hour", "weekend_share",
    "active_days", "review_count", "avg_rating",
)  # fmt: skip


@dataclass
class PortraitCard:
    user_id: str
    as_of: str
    #: section title -> (label, value) rows
    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)


def _fmt(name: str, value: Any) -> str:
    unit = FEATURES[name].unit
    if isinstance(value, float):
        if unit in ("share", "rate"):
            return f"{value:.0%}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}" + (" days" if unit == "days" else "")
    return str(value)


def _row(ws_lookup: dict[str, Any], name: str) -> tuple[str, str] | None:
    value = ws_lookup.get(name)
    if value is None:
        return None
    f = FEATURES[name]
    return f"{f.en.rstrip('.')} ({f.zh})", _fmt(name, value)


def _one(ws: Workspace, table: str, user_id: str) -> dict[str, Any] | None:
    if table not in ws.con.list_tables():
        return None
    t = ws.table(table)
    rows = t.filter(t.user_id == user_id).limit(1).to_pyarrow().to_pylist()
    return rows[0] if rows else None


def _show(name: str, value: Any) -> str:
    if name in FEATURES:
        dtype = FEATURES[name].dtype
        return _fmt(name, int(round(value)) if dtype == "int" else float(value))
    return f"{value:.2f}"


def _typical(ws: Workspace) -> dict[str, float | None]:
    """The training customers' median of each churn-model input (saved with the model)."""
    import json

    path = ws.artifacts / "value" / "churn.json"
    return json.loads(path.read_text(encoding="utf-8"))["medians"] if path.exists() else {}


def _value_rows(ws: Workspace, user_id: str, features: dict[str, Any]) -> list[tuple[str, str]]:
    """CLV, P(alive), expected purchases and churn risk with its top reasons."""
    from portrait.value import RISK_ZH, TIER_ZH, WINDOW_ZH
    from portrait.value.report import feature_label

    v = _one(ws, "value", user_id)
    if v is None:
        return []
    currency = ws.config.shop.currency
    months = ws.config.value.clv_months
    rows = []
    if v["clv"] is not None and v["clv"] == v["clv"]:
        rows.append((f"Predicted value, next {months} months (预测{months}个月价值)",
                     f"{v['clv']:,.2f} {currency}; tier {v['value_tier']} "
                     f"{TIER_ZH.get(v['value_tier'], '')}"))  # fmt: skip
    else:
        rows.append(
            ("Value tier (价值等级)", f"{v['value_tier']} {TIER_ZH.get(v['value_tier'], '')}")
        )
    rows.append(("Still a customer, probability (仍活跃概率)", f"{v['p_alive']:.0%}"))
    rows.append(("Expected purchases, next 90 days (未来90天预计购买)",
                 f"{v['expected_purchases_90d']:.2f}"))  # fmt: skip
    window = v["next_purchase_window"]
    rows.append(("Next purchase expected (预计下次购买)", f"{window} {WINDOW_ZH.get(window, '')}"))
    if v["churn_probability"] is not None:
        rows.append((f"Churn risk, {ws.config.value.churn_horizon_days} days (流失风险)",
                     f"{v['churn_probability']:.0%} {v['churn_risk']} "
                     f"{RISK_ZH.get(v['churn_risk'], '')}"))  # fmt: skip
    reasons = []
    typical = _typical(ws)
    for k in (1, 2, 3) if v["churn_risk"] in ("medium", "high") else ():
        name = v.get(f"churn_reason_{k}")
        if not name:
            continue
        value = features.get(name, v.get(name))
        text = feature_label(name)
        if value is not None:
            text += f": {_show(name, value)}"
            if typical.get(name) is not None:
                text += f" (typical 常见值 {_show(name, typical[name])})"
        reasons.append(text)
    if reasons:
        rows.append(("What raises the risk most (主要流失原因)", "; ".join(reasons)))
    return rows


def customer_portrait(ws: Workspace, user_id: str) -> PortraitCard:
    """The card of ``user_id``; a clear error if the build has not run or the id is unknown."""
    if "features" not in ws.con.list_tables():
        raise WorkspaceError(f"No portraits yet; run `portrait build -w {ws.path}` first.")
    features = _one(ws, "features", user_id)
    if features is None:
        raise WorkspaceError(
            f"No customer {user_id!r} in this workspace's portraits; check the id "
            "(ids are as the shop's data writes them, e.g. 12347)."
        )
    from portrait.pipeline import last_run

    run = last_run(ws, "features")
    as_of = str(run["as_of"])[:10] if run else "?"
    card = PortraitCard(user_id, as_of, features=features)
    card.sections["Key numbers (核心指标)"] = [
        r for n in KEY_NUMBERS if (r := _row(features, n)) is not None
    ]
    segments = _one(ws, "segments", user_id) or {}
    seg_rows = []
    if segments.get("rfm_segment"):
        seg = segments["rfm_segment"]
        seg_rows.append(
            ("RFM segment (RFM分层)", f"{seg} {SEGMENT_ZH.get(seg, '')} (R{segments['r_score']} "
             f"F{segments['f_score']} M{segments['m_score'] or '-'})")
        )  # fmt: skip
    if segments.get("lifecycle_stage"):
        stage = segments["lifecycle_stage"]
        seg_rows.append(("Lifecycle stage (生命周期)", f"{stage} {STAGES.get(stage, '')}"))
    if segments.get("cluster_name") is not None:
        seg_rows.append(
            ("Behavioural cluster (行为聚类)", f"{segments['cluster']}: {segments['cluster_name']}")
        )
    card.sections["Segments (分层)"] = seg_rows
    card.sections["Value and churn risk (价值与流失风险)"] = _value_rows(ws, user_id, features)
    tags = _one(ws, "tags", user_id) or {}
    yes, facts = [], []
    for tag in catalogue(ws.config):
        value = tags.get(tag.name)
        if tag.kind == "rule" and value is True:
            yes.append(f"{tag.en} {tag.zh}")
        elif tag.kind == "fact" and value is not None:
            facts.append((f"{tag.en} ({tag.zh})", str(value)))
    card.sections["Tags (标签)"] = ([("Tagged (命中标签)", "; ".join(yes))] if yes else []) + facts
    card.sections["Behaviour (行为)"] = [
        r for n in BEHAVIOUR if (r := _row(features, n)) is not None
    ]
    return card
