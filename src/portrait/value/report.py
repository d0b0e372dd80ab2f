"""What ``portrait value`` and the demo read back: the saved models, how well they predict,
and what the value table says about the shop, as facts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, cast

import ibis

from portrait.asof import default_as_of, parse_date
from portrait.facts import Fact, Note
from portrait.labels import Label, label
from portrait.value.build import has_models, load_models
from portrait.value.churn import ChurnEvaluation, evaluate_churn
from portrait.value.evaluate import HoldoutEvaluation, ModelName, evaluate_holdout

if TYPE_CHECKING:
    from portrait.workspace import Workspace


class FittedModel(Fact):
    """A saved model: what it is, its parameters, and what it was fitted on."""

    kind: str
    params: dict[str, float]
    as_of: str
    customers: int
    data_from: str
    data_to: str
    portrait_version: str
    #: for the spend model: the mean spend per purchase it implies
    mean_spend: float | None = None
    #: for the purchase model: the model the workspace names, when the build used another
    #: because the named one degenerated (see the notes)
    configured_kind: str | None = None
    #: for the purchase model: P(alive) left empty because the model degenerated
    p_alive_withheld: bool = False


class SavedModelsInfo(Fact):
    purchase: FittedModel
    spend: FittedModel | None
    notes: list[Note]


class ValueReport(Fact):
    """The saved models and both evaluations, in the shop's currency."""

    currency: str
    saved: SavedModelsInfo | None
    holdout: HoldoutEvaluation
    churn: ChurnEvaluation

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"evaluation": "holdout", **r} for r in self.holdout.csv_rows()] + [
            {"evaluation": "churn", **r} for r in self.churn.csv_rows()
        ]


def default_calibration_end(ws: Workspace) -> date:
    """60% of the way from the first purchase to the data's end: a long enough holdout."""
    orders = ws.table("orders")
    first = orders.ts.min().execute()
    events = ws.table("events")
    if first is None or first != first:
        first = events.ts.min().execute()
    end = default_as_of(ws)
    start = first.date() if first is not None and first == first else end - timedelta(days=365)
    return start + timedelta(days=int((end - start).days * 0.6))


def saved_models(ws: Workspace) -> SavedModelsInfo | None:
    """The models the last build saved, described; ``None`` before the first build."""
    if not has_models(ws):
        return None
    saved = load_models(ws)
    p = saved.meta["purchase"]
    keys = ("as_of", "customers", "data_from", "data_to", "portrait_version")
    configured = p.get("configured_model") or p["kind"]  # older builds did not record it
    purchase = FittedModel(kind=p["kind"], params=p["params"], **{k: p[k] for k in keys},
                           configured_kind=None if configured == p["kind"] else configured,
                           p_alive_withheld=bool(p.get("p_alive_withheld", False)))  # fmt: skip
    spend = None
    if saved.spend is not None:
        s = saved.meta["spend"]
        spend = FittedModel(kind=s["kind"], params=s["params"],
                            mean_spend=saved.spend.population_mean(),
                            **{k: s[k] for k in keys})  # fmt: skip
    return SavedModelsInfo(purchase=purchase, spend=spend, notes=saved.notes)


def value_report(
    ws: Workspace,
    *,
    calibration_end: str | date | None = None,
    holdout_end: str | date | None = None,
    churn_date: str | date | None = None,
) -> ValueReport:
    """The saved models, the purchase model on a holdout, the churn model on a later date."""
    cfg = ws.config.value
    cal_end = (
        default_calibration_end(ws) if calibration_end is None
        else parse_date(calibration_end, option="--calibration-end")
    )  # fmt: skip
    saved = saved_models(ws)
    # the model the build uses: the configured one, or the one it chose instead of it
    kind = cfg.model
    if saved is not None and (saved.purchase.configured_kind or saved.purchase.kind) == kind:
        kind = saved.purchase.kind
    holdout = evaluate_holdout(
        ws, cal_end, holdout_end, model=cast(ModelName, kind),  # the registry names it
        unit=cfg.time_unit, penalizer=cfg.penalizer,
    )  # fmt: skip
    churn = evaluate_churn(
        ws, churn_date, horizon_days=cfg.churn_horizon_days, purchase_model=kind,
        unit=cfg.time_unit, seed=ws.config.segments.seed,
    )  # fmt: skip
    return ValueReport(currency=ws.config.shop.currency, saved=saved,
                       holdout=holdout, churn=churn)  # fmt: skip


class TierValue(Fact):
    tier: str
    label: Label
    customers: int
    #: share of the shop's predicted value (null without amounts)
    clv_share: float | None


class ValueSummary(Fact):
    """What the value table says about the shop: CLV by tier, and the value at risk."""

    customers: int
    currency: str
    clv_months: int
    #: total predicted value of today's customers (null when purchases carry no amounts)
    clv: float | None
    expected_purchases_90d: float | None
    tiers: list[TierValue]
    at_risk_customers: int
    at_risk_clv_share: float | None


def value_summary(ws: Workspace) -> ValueSummary:
    """Totals of the built ``value`` table: CLV, tiers, and what high churn risk holds."""
    ws.require("value")
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

    def share(x: float | None) -> float | None:
        return (x or 0.0) / clv if clv else None

    return ValueSummary(
        customers=total["customers"], currency=ws.config.shop.currency,
        clv_months=ws.config.value.clv_months, clv=clv,
        expected_purchases_90d=total["purchases"],
        tiers=[TierValue(tier=t["value_tier"],
                         label=cast(Label, label("value_tier", t["value_tier"])),
                         customers=t["customers"], clv_share=share(t["clv"]))
               for t in tiers if t["value_tier"] is not None],
        at_risk_customers=total["risky"], at_risk_clv_share=share(total["risky_clv"]),
    )  # fmt: skip
