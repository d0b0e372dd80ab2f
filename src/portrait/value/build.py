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
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from portrait.engine import Engine
from portrait.errors import NotBuiltError
from portrait.facts import Note
from portrait.labels import Label
from portrait.schema import OUTPUTS
from portrait.stages import Stage, StageParams, StageResult
from portrait.value._base import per_distinct
from portrait.value.churn import (
    MIN_CHURN_CUSTOMERS,
    PURCHASE_SCORES,
    RISK_BANDS,
    ChurnModel,
    scores_of,
    training_snapshots,
)
from portrait.value.clv import customer_lifetime_value
from portrait.value.gamma_gamma import GammaGammaModel, frequency_spend_correlation
from portrait.value.models import PURCHASE_MODELS, choose_purchase_model
from portrait.value.summary import UNIT_DAYS, day_of, rfm_summary

if TYPE_CHECKING:
    from pathlib import Path

    from portrait.value._purchase import PurchaseModel
    from portrait.workspace import Workspace

log = logging.getLogger(__name__)

#: (days, code) of the expected-next-purchase windows, tried in order; the words are the
#: ``next_purchase_window`` vocabulary of :mod:`portrait.labels`
WINDOWS: tuple[tuple[int, str], ...] = ((30, "within_30d"), (90, "within_90d"),
                                        (365, "within_365d"))  # fmt: skip
NOT_EXPECTED = "not_within_year"
#: value tiers: top 20% high, next 30% medium
_TIER_SHARES = (0.2, 0.5)
#: customers whose churn is scored at once
_BATCH = 250_000


@dataclass
class ValueResult:
    """What the value stage fitted and wrote."""

    customers: int
    purchase_model: PurchaseModel | None = None
    spend_model: GammaGammaModel | None = None
    churn_model: ChurnModel | None = None
    #: the purchase model the workspace names; ``purchase_model`` is another one when the
    #: named one degenerated and the other fits better (:func:`choose_purchase_model`)
    configured_model: str = ""
    #: P(alive) left empty: the purchase model degenerated and none fits better
    p_alive_withheld: bool = False
    #: why a part is missing or to be read with care
    notes: list[Note] = field(default_factory=list)


def _tiers(score: np.ndarray) -> np.ndarray:
    """high / medium / low by rank: top 20%, next 30%, the rest."""
    order = np.argsort(np.argsort(-score, kind="stable"), kind="stable") / max(len(score), 1)
    return np.where(order < _TIER_SHARES[0], "high",
                    np.where(order < _TIER_SHARES[1], "medium", "low"))  # fmt: skip


def _window(probabilities: list[np.ndarray]) -> np.ndarray:
    """The first window in which a purchase is more likely than not."""
    out = np.full(len(probabilities[0]), NOT_EXPECTED, dtype=object)
    for (_, code), p in reversed(list(zip(WINDOWS, probabilities, strict=True))):
        out = np.where(p >= 0.5, code, out)
    return out


def purchase_columns(
    model: PurchaseModel, x: np.ndarray, tx: np.ndarray, t: np.ndarray, step: int, *,
    p_alive: bool,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The repeat-purchase model's ``value`` columns for customers' (x, t_x, T) in units of
    ``step`` days: P(alive) (NaN, written as null, when ``p_alive`` is withheld), expected
    purchases in 30/90/365 days, P(purchase in 90 days) and the expected-purchase window.
    The one way they are computed, on this machine and on Spark's executors."""
    columns = {
        "p_alive": per_distinct(model.conditional_probability_alive, x, tx, t) if p_alive
        else np.full(len(x), np.nan)
    }  # fmt: skip
    chances = []
    for days, _ in WINDOWS:
        columns[f"expected_purchases_{days}d"] = per_distinct(
            lambda a, b, c, d=days: model.conditional_expected_purchases(d / step, a, b, c),
            x, tx, t,
        )  # fmt: skip
        chances.append(per_distinct(
            lambda a, b, c, d=days: model.probability_purchase_within(d / step, a, b, c),
            x, tx, t,
        ))  # fmt: skip
    columns["p_purchase_90d"] = chances[1]
    columns["next_purchase_window"] = _window(chances)
    return columns


def risk_band(p: np.ndarray) -> np.ndarray:
    out = np.full(len(p), None, dtype=object)
    for edge, label in reversed(RISK_BANDS):
        out = np.where(p >= edge, label, out)
    return cast(np.ndarray, np.where(np.isnan(p), None, out))  # type: ignore[call-overload]


def build_value(ws: Workspace, as_of: date, *, engine: str | Engine | None = None) -> ValueResult:
    """Fit, score and save; writes the table ``value`` (one row per buyer)."""
    cfg = ws.config.value
    step = UNIT_DAYS[cfg.time_unit]
    summary = rfm_summary(ws, as_of, unit=cfg.time_unit, engine=engine).to_pyarrow()
    result = ValueResult(customers=summary.num_rows)
    if summary.num_rows < 10:
        result.notes.append(Note.of("few_buyers", customers=summary.num_rows, as_of=str(as_of)))
        ws.replace_table("value", _empty())
        return result
    x, tx, t = (summary.column(c).to_numpy() for c in ("frequency", "recency", "T"))
    choice = choose_purchase_model(x, tx, t, configured=cfg.model, penalizer=cfg.penalizer)
    model = result.purchase_model = choice.model
    result.configured_model, result.p_alive_withheld = cfg.model, not choice.p_alive
    result.notes += choice.notes
    columns: dict[str, Any] = {"user_id": summary.column("user_id")}
    columns |= purchase_columns(model, x, tx, t, step, p_alive=choice.p_alive)
    money = summary.column("monetary_value").to_numpy(zero_copy_only=False).astype(float)
    spend_model = None
    spent = summary.column("spend").to_numpy(zero_copy_only=False).astype(float)
    if np.isfinite(spent).sum() < 2:  # not the repeat purchases' mean: one-time buyers have none
        result.notes.append(Note.of("no_amounts"))
    elif not GammaGammaModel.fittable(x, np.nan_to_num(money)):
        result.notes.append(Note.of("no_spend_model"))
    else:
        spend_model = GammaGammaModel(penalizer=cfg.penalizer).fit(x, np.nan_to_num(money))
    if spend_model is not None:
        result.spend_model = spend_model
        result.notes += spend_model.warnings_
        rho = frequency_spend_correlation(x, np.nan_to_num(money))
        if abs(rho) > 0.3:
            result.notes.append(Note.of("spend_correlated", correlation=float(rho)))
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
    ws.replace_table("value", table.select(OUTPUTS["value"].names))
    save_models(ws, result, as_of, summary)
    return result


def _churn(
    ws: Workspace, as_of: date, summary: pa.Table, columns: dict[str, Any], result: ValueResult,
    engine: str | Engine | None,
) -> None:  # fmt: skip
    """Churn probability and reasons; without a trainable model, 1 - P(buy in the window)."""
    cfg = ws.config.value
    horizon = cfg.churn_horizon_days
    n = summary.num_rows
    model = result.purchase_model
    assert model is not None
    train = training_snapshots(
        ws, as_of - timedelta(days=horizon), horizon, model=model.kind, unit=cfg.time_unit,
        engine=engine,
    )  # fmt: skip
    churned = train.column("churned").to_numpy(zero_copy_only=False)
    if not ChurnModel.fittable(churned):
        result.notes.append(_no_churn_model(train))
        step = UNIT_DAYS[cfg.time_unit]
        x, tx, t = (summary.column(c).to_numpy() for c in ("frequency", "recency", "T"))
        p_buy = per_distinct(
            lambda a, b, c: model.probability_purchase_within(horizon / step, a, b, c), x, tx, t
        )
        columns["churn_probability"] = 1.0 - p_buy
        columns["churn_risk"] = risk_band(columns["churn_probability"])
        columns["churn_model"] = np.full(n, model.kind, dtype=object)
        for k in (1, 2, 3):
            columns[f"churn_reason_{k}"] = np.full(n, None, dtype=object)
        return
    churn = ChurnModel(horizon_days=horizon, seed=ws.config.segments.seed).fit(train, churned)
    result.churn_model = churn
    # the purchase model this stage fitted on the same summary gives the churn model's scores
    # (aligned with the summary's rows)
    assert result.purchase_model is not None
    scores = scores_of(result.purchase_model, summary, horizon / UNIT_DAYS[cfg.time_unit])
    p = np.full(n, np.nan)
    reasons = [np.full(n, None, dtype=object) for _ in range(3)]
    features = ws.table("features")
    inputs = [c for c in churn.features_ if c in features.columns]
    # the model's inputs only, a batch at a time: a few hundred MB however many customers
    for batch in features.select("user_id", *inputs).to_pyarrow_batches(chunk_size=_BATCH):
        row = pc.index_in(batch.column("user_id"), value_set=summary.column("user_id"))
        mine = pc.is_valid(row)
        part = pa.Table.from_batches([batch]).filter(mine)
        at = row.filter(mine)
        for name in PURCHASE_SCORES:
            part = part.append_column(name, scores.column(name).take(at))
        at = at.to_numpy(zero_copy_only=False)
        p[at] = churn.predict_proba(part)
        for k, names in enumerate(churn.reasons(part)):
            reasons[k][at] = names
    columns["churn_probability"] = p
    columns["churn_risk"] = risk_band(p)
    columns["churn_model"] = np.full(n, "lightgbm", dtype=object)
    for k, names in enumerate(reasons, start=1):
        columns[f"churn_reason_{k}"] = names


def _no_churn_model(train: pa.Table) -> Note:
    """Why there is no churn model, in people: the training snapshots stack several dates,
    so one customer is several rows."""
    users = train.column("user_id")
    churned = users.filter(train.column("churned").fill_null(False))
    return Note.of("no_churn_model", minimum=MIN_CHURN_CUSTOMERS,
                   customers=len(pc.unique(users)), churned=len(pc.unique(churned)))  # fmt: skip


def _empty() -> pa.Table:
    return OUTPUTS["value"].arrow_schema().empty_table()


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
    chosen = {"configured_model": result.configured_model,
              "p_alive_withheld": result.p_alive_withheld}  # fmt: skip
    for name, model, extra in (("purchase", result.purchase_model, chosen),
                               ("spend", result.spend_model, {})):  # fmt: skip
        path = folder / f"{name}.json"
        if model is None:
            path.unlink(missing_ok=True)
            continue
        data = {**model.to_dict(), **meta, **extra}
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    if result.churn_model is not None:
        result.churn_model.save(folder, **meta)
    else:
        (folder / "churn.json").unlink(missing_ok=True)
    notes = [n.model_dump(mode="json") for n in result.notes]
    (folder / "notes.json").write_text(json.dumps(notes, indent=2), encoding="utf-8")


@dataclass
class SavedModels:
    """The value models as saved by the last build, loaded without refitting."""

    purchase: PurchaseModel | None
    spend: GammaGammaModel | None
    churn: ChurnModel | None
    #: what each was fitted on: as_of, data range, customers, version
    meta: dict[str, dict[str, Any]]
    notes: list[Note]


def has_models(ws: Workspace) -> bool:
    """Whether a build has saved value models in this workspace."""
    return (_folder(ws) / "purchase.json").exists()


def load_models(ws: Workspace) -> SavedModels:
    """Load the models the last ``portrait build`` saved (:func:`has_models` says if any)."""
    folder = _folder(ws)
    path = folder / "purchase.json"
    if not path.exists():
        raise NotBuiltError(f"No value models are saved yet; run `portrait build -w {ws.path}`.")
    meta: dict[str, dict[str, Any]] = {}
    data = json.loads(path.read_text(encoding="utf-8"))
    purchase = PURCHASE_MODELS[data["kind"]].from_dict(data)
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
    return SavedModels(purchase, spend, churn, meta,
                       [Note.model_validate(n) for n in notes if isinstance(n, dict)])  # fmt: skip


def run_stage(ws: Workspace, as_of: date, params: StageParams) -> StageResult:
    """The value stage of the build: :func:`build_value` with the build's engine (on Spark,
    :func:`portrait.value.on_spark.build_value_on_spark`)."""
    if params.engine is Engine.SPARK:
        from portrait.value.on_spark import build_value_on_spark

        result = build_value_on_spark(ws, as_of)
    else:
        result = build_value(ws, as_of, engine=params.engine)
    chosen: dict[str, Any] = {}
    if result.purchase_model is not None:
        chosen["purchase_model"] = result.purchase_model.kind
        chosen["configured_purchase_model"] = result.configured_model
        chosen["p_alive"] = "withheld" if result.p_alive_withheld else "fitted"
    return StageResult(rows=result.customers, notes=result.notes, chosen=chosen)


STAGE = Stage(
    name="value",
    label=Label(en="value and churn", zh="价值与流失"),
    reads=("orders", "order_items", "events", "features"),
    writes=("value",),
    config=("value", "segments.seed"),
    run=run_stage,
)
