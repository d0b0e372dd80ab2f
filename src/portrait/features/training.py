"""Training sets for supervised models: features as of a date, a label from after it.

The features come from :func:`compute_features`, which reads nothing at or after the cutoff;
the label is the only thing that looks into the following ``horizon_days`` local days, and
it is added as a separate column so that no feature can see it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait import history
from portrait.asof import utc_of_local_midnight
from portrait.features.compute import compute_features

if TYPE_CHECKING:
    from portrait.workspace import Workspace


def training_set(
    ws: Workspace,
    as_of: str | date,
    *,
    horizon_days: int = 90,
    engine: str | None = None,
    share: float = 1.0,
) -> ir.Table:
    """Features of customers who bought before ``as_of``, and whether they bought again.

    ``purchased_next`` is true when the customer made a completed purchase in the
    ``horizon_days`` local days from ``as_of``; ``churned`` is its negation. ``share`` below
    1 keeps that share of the customers (:func:`in_sample`).
    """
    fs = compute_features(ws, as_of, engine=engine)
    con = ws.engine(engine)
    tables = history.tables(con)
    counts = history.probe(tables)
    ctx = fs.as_of
    end = utc_of_local_midnight(ctx.date + timedelta(days=horizon_days), ctx.timezone)
    # the label window: purchases from the cutoff to the end of the horizon
    later = history.orders(
        tables, replace(ctx, date=ctx.date + timedelta(days=horizon_days)), counts
    )
    later = later.filter(
        later.completed,
        later.ts >= ctx.cutoff_literal(),
        later.ts < ibis.literal(end, dt.timestamp),
    )
    buyers = later.select("user_id").distinct().mutate(purchased_next=ibis.literal(True))
    f = fs.table.filter(fs.table.frequency > 0)
    out = f.left_join(buyers, "user_id").drop("user_id_right")
    out = out.mutate(
        purchased_next=out.purchased_next.fill_null(False),
        churned=~out.purchased_next.fill_null(False),
    )
    return out if share >= 1 else out.filter(in_sample(out.user_id, share))


def in_sample(user_id: ir.StringValue, share: float) -> ir.BooleanValue:
    """Whether a customer is in a fixed sample of about ``share`` of all customers.

    The sample is decided by the MD5 of the id (its first four hex digits below
    ``share x 16^4``), which DuckDB and Spark compute alike, so both engines train on the
    same customers, and the same customers on every run.
    """
    cut = min(max(round(share * 0x10000), 1), 0x10000)
    bound = f"{cut:04x}" if cut < 0x10000 else "g"  # "g" sorts after every hex digit
    return user_id.hexdigest("md5").substr(0, 4) < ibis.literal(bound)
