"""Calibration/holdout evaluation of the repeat-purchase model, against two baselines.

The model is fitted on the purchases up to a calibration date and predicts each customer's
repeat purchases over the holdout that follows; the predictions are compared with what the
customers did, per customer (mean absolute error), in total, per calibration-frequency group
(the table behind the standard "conditional expectations" plot of Fader, Hardie and Lee
2005) and month by month (the tracking plot), where a stationary model shows how far it
misses seasonal peaks. Two baselines are scored on the same customers:

- **same rate**: each customer keeps buying at their calibration rate, x / T per day;
- **RFM regression**: a linear regression of purchases in a window on the customer's R, F and
  M quintile scores at its start, trained on the window of the same length that ends at the
  calibration date (the only labelled past there is without looking into the holdout).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from portrait.asof import AsOf
from portrait.engine import Engine
from portrait.errors import DataError
from portrait.facts import Fact, Note
from portrait.value._base import distinct_rows
from portrait.value.models import PURCHASE_MODELS
from portrait.value.summary import UNIT_DAYS, TimeUnit, purchase_periods, rfm_summary

if TYPE_CHECKING:
    import pandas as pd

    from portrait.workspace import Workspace

ModelName = Literal["bgnbd", "mbgnbd"]
METHODS = ("model", "same_rate", "rfm_regression")
#: calibration frequency groups of the table: 0..6 and 7+
_TOP_GROUP = 7


class HoldoutGroup(Fact):
    """Customers with the same number of repeat purchases in calibration."""

    #: calibration repeat purchases: "0" .. "6", "7+"
    group: str
    customers: int
    actual: float
    #: method -> mean predicted holdout repeat purchases
    predicted: dict[str, float]


class HoldoutMonth(Fact):
    """Repeat purchases in one calendar month of the holdout."""

    month: str
    days: int
    actual: int
    predicted: float

    @property
    def gap(self) -> float | None:
        """Actual against predicted, as a share (+0.6 = 60% more than predicted)."""
        return self.actual / self.predicted - 1 if self.predicted else None


class HoldoutEvaluation(Fact):
    """Predicted against actual repeat purchases in a holdout period."""

    calibration_end: date
    holdout_end: date
    horizon_days: int
    unit: str
    model: dict[str, Any]
    customers: int
    actual_total: int
    #: method -> predicted total over the holdout
    predicted_total: dict[str, float]
    #: method -> mean absolute error per customer
    mae: dict[str, float]
    groups: list[HoldoutGroup] = []
    months: list[HoldoutMonth] = []
    notes: list[Note] = []

    @property
    def best_method(self) -> str:
        return min(self.mae, key=lambda k: self.mae[k])

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"method": m, "predicted_total": self.predicted_total[m],
                 "actual_total": self.actual_total, "mae": self.mae[m]}
                for m in self.predicted_total]  # fmt: skip


def _rfm_scores(s: pd.DataFrame, as_of: date) -> np.ndarray:
    """R, F, M quintile scores (1..5, ties share the higher score) of a summary frame."""
    import pandas as pd

    from portrait.value.summary import day_number

    recency = day_number(as_of) - s["last_purchase"].to_numpy()

    def quintile(v: np.ndarray | pd.Series[Any]) -> np.ndarray:
        pct = pd.Series(v).rank(pct=True, method="max").to_numpy()
        return np.clip(np.ceil(pct * 5), 1, 5)

    return np.column_stack(
        [quintile(-recency), quintile(s["frequency"].to_numpy()), quintile(s["spend"].fillna(0))]
    )


def _rfm_regression(
    ws: Workspace, cal_as_of: date, horizon: int, unit: TimeUnit, test: pd.DataFrame,
    engine: str | None,
) -> tuple[np.ndarray | None, Note]:  # fmt: skip
    from sklearn.linear_model import LinearRegression

    train_as_of = cal_as_of - timedelta(days=horizon)
    train = rfm_summary(ws, train_as_of, unit=unit, holdout_end=cal_as_of, engine=engine)
    train = train.to_pandas()
    if len(train) < 10:
        return None, Note.of("rfm_regression_left_out", as_of=str(train_as_of),
                             customers=len(train))  # fmt: skip
    reg = LinearRegression().fit(_rfm_scores(train, train_as_of), train["holdout_purchases"])
    pred = np.maximum(reg.predict(_rfm_scores(test, cal_as_of)), 0.0)
    note = Note.of("rfm_regression_trained", start=str(train_as_of),
                   end=str(cal_as_of - timedelta(1)), customers=len(train))  # fmt: skip
    return pred, note


def _month_edges(start: date, end: date) -> list[tuple[date, date]]:
    """Calendar months covering [start, end), clipped to it."""
    edges, cur = [], start
    while cur < end:
        last = calendar.monthrange(cur.year, cur.month)[1]
        nxt = min(date(cur.year, cur.month, last) + timedelta(days=1), end)
        edges.append((cur, nxt))
        cur = nxt
    return edges


def evaluate_holdout(
    ws: Workspace,
    calibration_end: str | date,
    holdout_end: str | date | None = None,
    *,
    model: ModelName = "bgnbd",
    unit: TimeUnit = "days",
    penalizer: float = 0.0,
    engine: str | None = None,
) -> HoldoutEvaluation:
    """Fit on purchases up to ``calibration_end`` (inclusive) and score the holdout after it.

    ``holdout_end`` (inclusive) defaults to the last day with data.
    """
    from portrait.asof import default_as_of

    cal_end = date.fromisoformat(str(calibration_end))
    as_of = cal_end + timedelta(days=1)
    end_excl = (
        default_as_of(ws) if holdout_end is None else date.fromisoformat(str(holdout_end))
        + timedelta(days=1)
    )  # fmt: skip
    horizon = (end_excl - as_of).days
    if horizon < 1:
        raise DataError(
            f"The holdout after {cal_end} is empty; choose an earlier --calibration-end."
        )
    frame = rfm_summary(ws, as_of, unit=unit, holdout_end=end_excl, engine=engine).to_pandas()
    if len(frame) < 10:
        raise DataError(
            f"Only {len(frame)} customers bought before {as_of}; choose a later --calibration-end."
        )
    step = UNIT_DAYS[unit]
    x, tx, big_t = (frame[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    actual = frame["holdout_purchases"].to_numpy(float)
    fitted = PURCHASE_MODELS[model](penalizer=penalizer).fit(x, tx, big_t)
    t = horizon / step
    preds = {
        "model": fitted.conditional_expected_purchases(t, x, tx, big_t),
        "same_rate": x / big_t * t,
    }
    rfm, note = _rfm_regression(ws, as_of, horizon, unit, frame, engine)
    notes = [note]
    if rfm is not None:
        preds["rfm_regression"] = rfm
    groups = []
    grp = np.minimum(x, _TOP_GROUP).astype(int)
    for g in range(_TOP_GROUP + 1):
        members = grp == g
        if not members.any():
            continue
        groups.append(HoldoutGroup(
            group=f"{g}+" if g == _TOP_GROUP else str(g), customers=int(members.sum()),
            actual=float(actual[members].mean()),
            predicted={k: float(v[members].mean()) for k, v in preds.items()},
        ))  # fmt: skip
    months = _tracking(ws, fitted, frame, as_of, end_excl, unit, engine)
    evaluation = HoldoutEvaluation(
        calibration_end=cal_end,
        holdout_end=end_excl - timedelta(days=1),
        horizon_days=horizon,
        unit=unit,
        model=fitted.to_dict(),
        customers=len(frame),
        actual_total=int(actual.sum()),
        predicted_total={k: float(v.sum()) for k, v in preds.items()},
        mae={k: float(np.abs(v - actual).mean()) for k, v in preds.items()},
        groups=groups,
        months=[HoldoutMonth(**m) for m in months],
        notes=notes + list(fitted.warnings_),
    )
    evaluation.notes.append(_seasonality_note(months))
    return evaluation


def _tracking(
    ws: Workspace, fitted: Any, frame: pd.DataFrame, as_of: date, end: date, unit: TimeUnit,
    engine: str | None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Actual and predicted repeat purchases of the calibration customers, month by month."""
    from portrait.value.summary import day_number

    x, tx, big_t = (frame[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    # the cumulative expectation at each month's end, summed over distinct customers
    (ux, utx, ut), weights = distinct_rows(x, tx, big_t)
    step = UNIT_DAYS[unit]
    ctx = AsOf(end, ws.config.shop.timezone, engine=Engine.of(ws.engine(engine)))
    periods = purchase_periods(ws, ctx, unit, engine)
    # the calibration customers are those whose first purchase came before the as-of date
    periods = periods.mutate(first_day=periods.day.min().over(group_by="user_id"))
    start = day_number(as_of)
    later = periods.filter(periods.day >= start, periods.first_day < start)
    per_day = later.group_by("day").aggregate(n=later.count()).to_pyarrow()
    days = per_day.column("day").to_numpy()
    counts = per_day.column("n").to_numpy()
    rows, before = [], 0.0
    for lo, hi in _month_edges(as_of, end):
        upto = float(
            weights @ fitted.conditional_expected_purchases((hi - as_of).days / step, ux, utx, ut)
        )
        inside = (days >= day_number(lo)) & (days < day_number(hi))
        rows.append({"month": lo.strftime("%Y-%m"), "days": (hi - lo).days,
                     "actual": int(counts[inside].sum()), "predicted": upto - before})  # fmt: skip
        before = upto
    return rows


def _seasonality_note(months: list[dict[str, Any]]) -> Note:
    full = [m for m in months if m["days"] >= 28 and m["predicted"] > 0]
    if not full:
        return Note.of("no_whole_month")
    peak = max(full, key=lambda m: m["actual"] / max(m["predicted"], 1e-9))
    return Note.of(
        "seasonal_miss",
        month=peak["month"],
        actual=peak["actual"],
        predicted=peak["predicted"],
        gap=peak["actual"] / peak["predicted"] - 1,
    )
