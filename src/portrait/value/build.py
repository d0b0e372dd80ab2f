"""The value stage: CLV, P(alive), expected purchases and churn risk of every buyer.

Fits the repeat-purchase model (BG/NBD or MBG/NBD) and the spend model (Gamma-Gamma) on all
purchases before the as-of date, and the churn model on monthly snapshots whose label
windows end by the as-of date; scores every buyer as of that date into the warehouse table
``value``; and saves the fitted models, with their parameters, data range and Portrait's
version, in ``artifacts/value/`` so that they are used again without refitting
(:func:`load_models`).

Predictions are computed once per distinct (frequency, recency, T), which a million
customers summarised by day share by the hundred, then spread back to customers
(:func:`portrait.value._base.per_distinct`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from portrait.errors import ConfigError
from portrait.value._base import per_distinct
from portrait.value.churn import (
    RISK_BANDS,
    ChurnModel,
    scores_of,
    training_snapshots,
    with_purchase_scores,
)
from portrait.value.clv import customer_lifetime_value
from portrait.value.evaluate import MODELS
from portrait.value.gamma_gamma import GammaGammaModel, frequency_spend_correlation
from portrait.value.summary import UNIT_DAYS, day_of, rfm_summary

if TYPE_CHECKING:
    from pathlib import Path

    from portrait.value._purchase import PurchaseModel
    from portrait.workspace import Workspace

log = logging.getLogger(__name__)

#: (days, label, Chinese) of the expected-next-purchase windows, tried in order
WINDOWS: tuple[tuple[int, str, str], ...] = (
    (30, "within 30 days", "30天内"),
    (90, "in 1-3 months", "1-3个月内"),
    (365, "in 3-12 months", "3-12个月内"),
)
NOT_EXPECTED = ("not within a year", "一年内不太可能")
WINDOW_ZH = {en: zh for _, en, zh in WINDOWS} | {NOT_EXPECTED[0]: NOT_EXPECTED[1]}
TIER_ZH = {"high": "高价值", "medium": "中价值", "low": "低价值"}
RISK_ZH = {"high": "高风险", "medium": "中风险", "low": "低风险"}
#: value tiers: top 20% high, next 30% medium
_TIER_SHARES = (0.2, 0.5)


@dataclass
class ValueResult:
    """What the value stage fitted and wrote."""

    customers: int
    purchase_model: PurchaseModel | None = None
    spend_model: GammaGammaModel | None = None
    churn_model: ChurnModel | None = None
    #: why a part is missing or to be read with care
    notes: list[str] = field(default_factory=list)


def _tiers(score: np.ndarray) -> np.ndarray:
    """high / medium / low by rank: top 20%, next 30%, the rest."""
    order = np.argsort(np.argsort(-score, kind="stable"), kind="stable") / max(len(score), 1)
    return np.where(order < _TIER_SHARES[0], "high",
                    np.where(order < _TIER_SHARES[1], "medium", "low"))  # fmt: skip


def _window(probabilities: list[np.ndarray]) -> np.ndarray:
    """The first window in which a purchase is more likely than not."""
    out = np.full(len(probabilities[0]), NOT_EXPECTED[0], dtype=object)
    for (_, label, _), p in reversed(list(zip(WINDOWS, probabilities, strict=True))):
        out = np.where(p >= 0.5, label, out)
    return out


def risk_band(p: np.ndarray) -> np.ndarray:
    out = np.full(len(p), None, dtype=object)
    for edge, label in reversed(RISK_BANDS):
        out = np.where(p >= edge, label, out)
    return np.where(np.isnan(p), None, out)


def build_value(ws: Workspace, as_of: date, *, engine: str | None = None) -> ValueResult:
    """Fit, score and save; writes the table ``value`` (one row per buyer)."""
    cfg = ws.config.value
    step = UNIT_DAYS[cfg.time_unit]
    summary = rfm_summary(ws, as_of, unit=cfg.time_unit, engine=engine).to_pyarrow()
    result = ValueResult(customers=summary.num_rows)
    if summary.num_rows < 10:
        result.notes.append(
            f"only {summary.num_rows} customers bought before {as_of}; value models need more"
        )
        ws.replace_table("value", _empty())
        return result
    x, tx, t = (summary.column(c).to_numpy() for c in ("frequency", "recency", "T"))
    model = MODELS[cfg.model](penalizer=cfg.penalizer).fit(x, tx, t)
    result.purchase_model = model
    result.notes += model.warnings_
    columns: dict[str, Any] = {"user_id": summary.column("user_id")}
    columns["p_alive"] = per_distinct(model.conditional_probability_alive, x, tx, t)
    chances = []
    for days in (30, 90, 365):
        columns[f"expected_purchases_{days}d"] = per_distinct(
            lambda a, b, c, d=days: model.conditional_expected_purchases(d / step, a, b, c),
            x, tx, t,
        )  # fmt: skip
        chances.append(
            per_distinct(
                lambda a, b, c, d=days: model.probability_purchase_within(d / step, a, b, c),
                x,
                tx,
                t,
            )  # fmt: skip
        )
    columns["p_purchase_90d"] = chances[1]
    columns["next_purchase_window"] = _window(chances)
    money = summary.column("monetary_value").to_numpy(zero_copy_only=False).astype(float)
    if np.isfinite(money).sum() >= 2:
        try:
            spend_model = GammaGammaModel(penalizer=cfg.penalizer).fit(x, np.nan_to_num(money))
        except ConfigError as exc:
            result.notes.append(f"spend is not modelled: {exc}")
            spend_model = None
    else:
        spend_model = None
        result.notes.append("the purchases carry no amounts, so CLV is unknown")
    if spend_model is not None:
        result.spend_model = spend_model
        result.notes += spend_model.warnings_
        rho = frequency_spend_correlation(x, np.nan_to_num(money))
        if abs(rho) > 0.3:
            result.notes.append(
                f"spend per purchase correlates with frequency ({rho:+.2f}); Gamma-Gamma "
                "assumes it does not, so read CLV as a ranking more than an amount"
            )
        spend = spend_model.conditional_expected_average_profit(x, np.nan_to_num(money))
        columns["expected_spend"] = spend
        columns["clv"] = customer_lifetime_value(
            model, x, tx, t, spend, months=cfg.clv_months, discount_rate=cfg.discount_rate,
            unit_days=step,
        )  # fmt: skip
        columns["value_tier"] = _tiers(np.nan_to_num(columns["clv"]))
    else:
        columns["expected_spend"] = np.full(len(x), np.nan)
        columns["clv"] = np.full(len(x), np.nan)
        columns["value_tier"] = _tiers(columns["expected_purchases_365d"])
    _churn(ws, as_of, summary, columns, result, engine)
    table = pa.table(
        {k: pa.array(v, from_pandas=True) if isinstance(v, np.ndarray) else v
         for k, v in columns.items()}
    )  # fmt: skip
    ws.replace_table("value", table)
    save_models(ws, result, as_of, summary)
    return result


def _churn(
    ws: Workspace, as_of: date, summary: pa.Table, columns: dict[str, Any], result: ValueResult,
    engine: str | None,
) -> None:  # fmt: skip
    """Churn probability and reasons; without a trainable model, 1 - P(buy in the window)."""
    cfg = ws.config.value
    horizon = cfg.churn_horizon_days
    n = summary.num_rows
    try:
        train = training_snapshots(
            ws, as_of - timedelta(days=horizon), horizon, model=cfg.model, unit=cfg.time_unit,
            engine=engine,
        )  # fmt: skip
        churn = ChurnModel(horizon_days=horizon, seed=ws.config.segments.seed).fit(
            train, train.column("churned").to_numpy(zero_copy_only=False)
        )
    except ConfigError as exc:
        result.notes.append(f"no churn model ({exc}); churn risk is 1 - P(purchase) instead")
        step = UNIT_DAYS[cfg.time_unit]
        x, tx, t = (summary.column(c).to_numpy() for c in ("frequency", "recency", "T"))
        model = result.purchase_model
        assert model is not None
        p_buy = per_distinct(
            lambda a, b, c: model.probability_purchase_within(horizon / step, a, b, c), x, tx, t
        )
        columns["churn_probability"] = 1.0 - p_buy
        columns["churn_risk"] = risk_band(columns["churn_probability"])
        columns["churn_model"] = np.full(n, "bgnbd", dtype=object)
        for k in (1, 2, 3):
            columns[f"churn_reason_{k}"] = np.full(n, None, dtype=object)
        return
    result.churn_model = churn
    features = ws.table("features").to_pyarrow()
    # the purchase model this stage fitted on the same summary gives the churn model's scores
    assert result.purchase_model is not None
    scores = scores_of(result.purchase_model, summary, horizon / UNIT_DAYS[cfg.time_unit])
    scored = with_purchase_scores(features, scores)
    # one row per buyer, in the summary's order
    order = pa.table({"user_id": summary.column("user_id"),
                      "_row": pa.array(np.arange(n))})  # fmt: skip
    scored = order.join(scored, "user_id", join_type="left outer").sort_by("_row")
    p = churn.predict_proba(scored)
    columns["churn_probability"] = p
    columns["churn_risk"] = risk_band(p)
    columns["churn_model"] = np.full(n, "lightgbm", dtype=object)
    for k, names in enumerate(churn.reasons(scored), start=1):
        columns[f"churn_reason_{k}"] = names


_SCHEMA = pa.schema(
    [("user_id", pa.string()), ("p_alive", pa.float64()),
     ("expected_purchases_30d", pa.float64()), ("expected_purchases_90d", pa.float64()),
     ("expected_purchases_365d", pa.float64()), ("p_purchase_90d", pa.float64()),
     ("next_purchase_window", pa.string()), ("expected_spend", pa.float64()),
     ("clv", pa.float64()), ("value_tier", pa.string()), ("churn_probability", pa.float64()),
     ("churn_risk", pa.string()), ("churn_model", pa.string()), ("churn_reason_1", pa.string()),
     ("churn_reason_2", pa.string()), ("churn_reason_3", pa.string())]
)  # fmt: skip


def _empty() -> pa.Table:
    return _SCHEMA.empty_table()


def _folder(ws: Workspace) -> Path:
    return ws.artifacts / "value"


def save_models(ws: Workspace, result: ValueResult, as_of: date, summary: pa.Table) -> None:
    """Write the fitted models with what they were fitted on, as JSON (and LightGBM text)."""
    from portrait import __version__

    folder = _folder(ws)
    folder.mkdir(parents=True, exist_ok=True)
    first = summary.column("first_purchase").to_numpy()
    last = summary.column("last_purchase").to_numpy()
    meta = {
        "portrait_version": __version__,
        "as_of": str(as_of),
        "data_from": str(day_of(first.min())),
        "data_to": str(day_of(last.max())),
        "customers": summary.num_rows,
        "time_unit": ws.config.value.time_unit,
    }
    for name, model in (("purchase", result.purchase_model), ("spend", result.spend_model)):
        path = folder / f"{name}.json"
        if model is None:
            path.unlink(missing_ok=True)
            continue
        path.write_text(json.dumps({**model.to_dict(), **meta}, indent=2), encoding="utf-8")
    if result.churn_model is not None:
        result.churn_model.save(folder, **meta)
    else:
        (folder / "churn.json").unlink(missing_ok=True)
    (folder / "notes.json").write_text(json.dumps(result.notes, indent=2), encoding="utf-8")


@dataclass
class SavedModels:
    """The value models as saved by the last build, loaded without refitting."""

    purchase: PurchaseModel | None
    spend: GammaGammaModel | None
    churn: ChurnModel | None
    #: what each was fitted on: as_of, data range, customers, version
    meta: dict[str, dict[str, Any]]
    notes: list[str]


def load_models(ws: Workspace) -> SavedModels:
    """Load the models the last ``portrait build`` saved."""
    folder = _folder(ws)
    path = folder / "purchase.json"
    if not path.exists():
        raise ConfigError(f"No value models are saved yet; run `portrait build -w {ws.path}`.")
    meta: dict[str, dict[str, Any]] = {}
    data = json.loads(path.read_text(encoding="utf-8"))
    purchase = MODELS[data["kind"]].from_dict(data)
    meta["purchase"] = data
    spend = None
    if (folder / "spend.json").exists():
        data = json.loads((folder / "spend.json").read_text(encoding="utf-8"))
        spend, meta["spend"] = GammaGammaModel.from_dict(data), data
    churn = None
    if (folder / "churn.json").exists():
        churn = ChurnModel.load(folder)
        meta["churn"] = json.loads((folder / "churn.json").read_text(encoding="utf-8"))
    notes = json.loads((folder / "notes.json").read_text(encoding="utf-8"))
    return SavedModels(purchase, spend, churn, meta, notes)


def value_summary(ws: Workspace) -> dict[str, Any]:
    """What the value table says about the shop: CLV by tier, and the value at risk.

    Keys: ``customers``, ``clv`` (total predicted value, None without amounts), ``tiers``
    (per value tier: customers and share of CLV), ``at_risk`` (customers at high churn risk
    and their share of CLV), ``expected_purchases_90d`` (total).
    """
    import ibis

    v = ws.table("value")
    risky = v.churn_risk == "high"
    total = v.aggregate(
        customers=v.count(), clv=v.clv.sum(), purchases=v.expected_purchases_90d.sum(),
        risky=v.count(where=risky), risky_clv=v.clv.sum(where=risky),
    ).to_pyarrow().to_pylist()[0]  # fmt: skip
    tiers = (
        v.group_by("value_tier")
        .aggregate(customers=v.count(), clv=v.clv.sum())
        .order_by(ibis.desc("clv"))
        .to_pyarrow()
        .to_pylist()
    )
    clv = total["clv"]
    share = (lambda x: (x or 0.0) / clv) if clv else (lambda x: None)
    return {
        "customers": total["customers"],
        "clv": clv,
        "expected_purchases_90d": total["purchases"],
        "tiers": [
            {"tier": t["value_tier"], "customers": t["customers"], "clv_share": share(t["clv"])}
            for t in tiers
        ],  # fmt: skip
        "at_risk": {"customers": total["risky"], "clv_share": share(total["risky_clv"])},
    }
