"""The RFM summary the value models are fitted on, as of a date, from the warehouse.

Per customer with a completed purchase before the as-of date: ``frequency`` (x, purchase
periods after the first), ``recency`` (t_x, time from the first to the last purchase),
``T`` (time from the first purchase to the as-of date), ``monetary_value`` (mean amount of
the repeat periods, the first excluded as Fader and Hardie do) and ``spend`` (all of it).
Several purchases in one period (a day by default) count as one, with their amounts added:
customers who split a basket into three orders on one afternoon did not buy three times.

Times are in the configured unit (days or weeks) and measured between local calendar days of
the shop: a customer whose only purchase was on the last day before the as-of date has T = 1
day. With ``holdout_end`` the summary also counts each customer's purchase periods (and
spend) from the as-of date up to that date: the actuals a calibration/holdout evaluation
compares predictions with.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait import history
from portrait.asof import AsOf
from portrait.engine import Engine

if TYPE_CHECKING:
    from portrait.workspace import Workspace

TimeUnit = Literal["days", "weeks"]
UNIT_DAYS: dict[str, int] = {"days": 1, "weeks": 7}


def purchase_periods(ws: Workspace, ctx: AsOf, unit: TimeUnit, engine: str | None) -> ir.Table:
    """One row per customer and purchase period before ``ctx``'s cutoff: day, amount."""
    con = ws.engine(engine)
    tables = history.tables(con)
    counts = history.probe(tables)
    o = history.orders(tables, ctx, counts)
    o = o.filter(o.completed).mutate(day=ctx.local_day(o.ts))
    o = o.mutate(period=o.day // UNIT_DAYS[unit])
    return o.group_by(["user_id", "period"]).aggregate(
        day=o.day.min(), amount=o.amount.sum(), known=o.amount.count()
    )


def rfm_summary(
    ws: Workspace,
    as_of: str | date,
    *,
    unit: TimeUnit = "days",
    holdout_end: date | None = None,
    engine: str | None = None,
) -> ir.Table:
    """Every buyer's (frequency, recency, T, monetary_value) as of ``as_of``.

    Columns: ``user_id``, ``frequency``, ``recency``, ``T``, ``monetary_value`` (null when
    the purchases carry no amounts or there is no repeat period), ``first_purchase``,
    ``last_purchase`` (local days), and with ``holdout_end`` also ``holdout_purchases`` and
    ``holdout_value`` (purchase periods and spend in [as_of, holdout_end)).
    """
    from portrait.asof import parse_as_of

    ctx = AsOf(parse_as_of(as_of, ws), ws.config.shop.timezone, engine=Engine.of(ws.engine(engine)))
    per = purchase_periods(ws, ctx, unit, engine)
    step = float(UNIT_DAYS[unit])
    first = per.group_by("user_id").aggregate(
        first_day=per.day.min(),
        first_period=per.period.min(),
    )
    per = per.join(first, "user_id")
    repeat = per.period > per.first_period
    summary = per.group_by("user_id").aggregate(
        frequency=per.period.nunique() - 1,
        first_day=per.first_day.min(),
        last_day=per.day.max(),
        repeat_value=per.amount.sum(where=repeat),
        repeat_known=per.known.sum(where=repeat),
        spend=per.amount.sum(),
    )
    as_of_day = ibis.literal(ctx.day_number, dt.int64)
    out = summary.select(
        "user_id",
        frequency=summary.frequency.cast(dt.int64),
        recency=(summary.last_day - summary.first_day).cast(dt.float64) / step,
        T=(as_of_day - summary.first_day).cast(dt.float64) / step,
        monetary_value=(summary.frequency > 0).ifelse(
            (summary.repeat_known > 0).ifelse(
                summary.repeat_value.cast(dt.float64) / summary.frequency.cast(dt.float64),
                ibis.null(dt.float64),
            ),
            ibis.null(dt.float64),
        ),
        spend=summary.spend.cast(dt.float64),
        first_purchase=summary.first_day,
        last_purchase=summary.last_day,
    )
    if holdout_end is None:
        return out
    later_ctx = replace(ctx, date=holdout_end)
    later = purchase_periods(ws, later_ctx, unit, engine)
    later = later.filter(later.day >= ctx.day_number)
    actual = later.group_by("user_id").aggregate(
        holdout_purchases=later.period.nunique(), holdout_value=later.amount.sum()
    )
    joined = out.left_join(actual, "user_id").drop("user_id_right")
    return joined.mutate(
        holdout_purchases=joined.holdout_purchases.fill_null(0).cast(dt.int64),
        holdout_value=joined.holdout_value.cast(dt.float64).fill_null(0.0),
    )


def day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def day_of(number: int) -> date:
    return date(1970, 1, 1) + timedelta(days=int(number))
