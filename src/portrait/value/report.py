"""The evaluation reports as titled tables of text, in English and Chinese.

Plain rows (title, header, rows, notes) so the CLI, the HTML report and the API can each
present them their own way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from portrait.value.churn import PURCHASE_SCORES, ChurnEvaluation
from portrait.value.evaluate import HoldoutEvaluation

if TYPE_CHECKING:
    from portrait.workspace import Workspace

METHOD_NAMES = {
    "model": "model 模型",
    "same_rate": "same rate as calibration 同速率基线",
    "rfm_regression": "RFM-score regression RFM回归基线",
    "recency": "recency alone 仅最近购买天数",
    "p_alive": "1 - P(alive)",
    "expected": "BG/NBD expected purchases 预计购买次数",
    "p_purchase": "BG/NBD P(no purchase) 预计不购买概率",
}


@dataclass
class ReportTable:
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def default_calibration_end(ws: Workspace) -> date:
    """60% of the way from the first purchase to the data's end: a long enough holdout."""
    from portrait.features import default_as_of

    orders = ws.table("orders")
    first = orders.ts.min().execute()
    events = ws.table("events")
    if first is None or first != first:
        first = events.ts.min().execute()
    end = default_as_of(ws)
    start = first.date() if first is not None and first == first else end - timedelta(days=365)
    return start + timedelta(days=int((end - start).days * 0.6))


def _n(v: float) -> str:
    return f"{v:,.2f}"


def holdout_tables(e: HoldoutEvaluation) -> list[ReportTable]:
    methods = list(e.predicted_total)
    params = ", ".join(f"{k}={v:.4g}" for k, v in e.model["params"].items())
    head = ReportTable(
        f"Repeat purchases: calibration to {e.calibration_end}, holdout to {e.holdout_end} "
        f"({e.horizon_days} days), {e.customers:,} customers (复购预测：校准期与验证期)",
        ["method 方法", "predicted total 预测总数", "actual total 实际总数",
         "MAE per customer 每客户平均绝对误差"],
        [[METHOD_NAMES[m], _n(e.predicted_total[m]), f"{e.actual_total:,}", f"{e.mae[m]:.3f}"]
         for m in methods],
        [f"{e.model['kind']} fitted by maximum likelihood: {params}",
         f"best per-customer MAE: {METHOD_NAMES[e.best_method]}"],
    )  # fmt: skip
    groups = ReportTable(
        "Mean holdout repeat purchases by calibration repeat purchases (按校准期复购次数分组)",
        ["calibration repeats 校准期复购", "customers 客户数", "actual 实际",
         *[METHOD_NAMES[m] for m in methods]],
        [[g["group"], f"{g['customers']:,}", _n(g["actual"]), *[_n(g[m]) for m in methods]]
         for g in e.groups],
    )  # fmt: skip
    months = ReportTable(
        "Repeat purchases by month of the holdout (验证期逐月复购)",
        ["month 月份", "days 天数", "actual 实际", "predicted 预测", "gap 偏差"],
        [[m["month"], str(m["days"]), f"{m['actual']:,}", _n(m["predicted"]),
          f"{m['actual'] / m['predicted'] - 1:+.0%}" if m["predicted"] else ""]
         for m in e.months],
        e.notes,
    )  # fmt: skip
    return [head, groups, months]


def churn_tables(e: ChurnEvaluation) -> list[ReportTable]:
    m = e.metrics["model"]
    head = ReportTable(
        f"Churn = no purchase in {e.horizon_days} days: trained as of {e.train_as_of} and "
        f"earlier snapshots ({e.train_customers:,} rows), tested as of {e.test_as_of} on "
        f"{e.test_customers:,} customers, {e.test_churn_rate:.1%} churned (流失预测)",
        ["method 方法", "ROC AUC", "PR AUC"],
        [[METHOD_NAMES[k], f"{v['roc_auc']:.3f}", f"{v['pr_auc']:.3f}"]
         for k, v in e.metrics.items()],
        [f"at the operating threshold {e.threshold:.2f} (best F1 on held-back training "
         f"customers): precision {m['precision']:.1%}, recall {m['recall']:.1%}; "
         f"Brier score {m['brier']:.3f}",
         "the model beats every baseline on ROC AUC" if e.beats_baselines
         else "the model does NOT beat every baseline on ROC AUC here"],
    )  # fmt: skip
    calibration = ReportTable(
        "Calibration: predicted against observed churn by decile (校准：预测与实际流失率)",
        ["decile 分位", "customers 客户数", "predicted 预测", "observed 实际"],
        [[str(c["decile"]), f"{c['customers']:,}", f"{c['predicted']:.1%}",
          f"{c['observed']:.1%}"] for c in e.calibration],
    )  # fmt: skip
    importance = ReportTable(
        "What drives the churn score (mean |contribution|) (流失驱动因素)",
        ["feature 特征", "meaning 含义", "weight 权重"],
        [[name, feature_label(name), f"{w:.3f}"] for name, w in e.importance],
    )
    return [head, calibration, importance]


def feature_label(name: str) -> str:
    """A feature's meaning in English and Chinese, for reasons and reports."""
    from portrait.features import FEATURES

    if name in PURCHASE_SCORES:
        en, zh = PURCHASE_SCORES[name]
        return f"{en} / {zh}"
    f = FEATURES.get(name)
    return f"{f.en.rstrip('.')} / {f.zh}" if f else name
