"""What a workspace holds, in the terms a shop owner and an operator ask about.

:func:`table_status` answers "what data is in here and where did it come from" (``portrait
status``); :func:`shop_overview` answers "how is the shop doing" (the demo's summary):
customers, orders, revenue, repeat buyers, cancellations, best sellers. Both are a handful
of aggregate queries over the warehouse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis

from portrait import schema
from portrait.workspace import Workspace

#: the column that dates each table's rows
_TIME_COLUMN = {"users": "signup_ts", "events": "ts", "orders": "ts", "reviews": "ts"}


@dataclass
class TableStatus:
    name: str
    rows: int
    first: datetime | None
    last: datetime | None
    sources: list[str]


def table_status(ws: Workspace) -> list[TableStatus]:
    """Rows, date range and sources of every canonical table."""
    ingests = ws.table("ingests").to_pyarrow().to_pylist()
    out = []
    for name in schema.TABLES:
        t = ws.table(name)
        col = _TIME_COLUMN.get(name)
        if col:
            agg = t.aggregate(n=t.count(), first=t[col].min(), last=t[col].max())
        else:
            agg = t.aggregate(n=t.count())
        row = agg.to_pyarrow().to_pylist()[0]
        sources = sorted(
            {
                f"{Path(i['source']).name} ({i['preset']})"
                for i in ingests
                if i["table_name"] == name or name in json.loads(i["derived"] or "{}")
            }
        )
        out.append(TableStatus(name, int(row["n"]), row.get("first"), row.get("last"), sources))
    return out


def last_runs(ws: Workspace, limit: int = 10) -> list[dict[str, Any]]:
    runs = ws.table("runs").order_by(ibis.desc("started_at")).limit(limit)
    return runs.to_pyarrow().to_pylist()


def rejects_summary(ws: Workspace, limit: int = 5) -> list[dict[str, Any]]:
    """The most common reasons rows were rejected, across all ingests."""
    r = ws.table("rejects")
    kinds = r.group_by(reason=r.reason.re_replace(r"'[^']*'", "'…'")).aggregate(n=r.count())
    return kinds.order_by(ibis.desc("n")).limit(limit).to_pyarrow().to_pylist()


@dataclass
class Overview:
    currency: str
    first_order: datetime | None = None
    last_order: datetime | None = None
    customers: int = 0
    orders: int = 0
    guest_orders: int = 0
    revenue: float = 0.0
    average_order_value: float = 0.0
    repeat_customers: int = 0
    cancelled_orders: int = 0
    top_items: list[dict[str, Any]] = field(default_factory=list)
    top_countries: list[dict[str, Any]] = field(default_factory=list)
    monthly: list[dict[str, Any]] = field(default_factory=list)

    @property
    def repeat_share(self) -> float:
        return self.repeat_customers / self.customers if self.customers else 0.0


def shop_overview(ws: Workspace, *, top: int = 5) -> Overview:
    """Headline numbers from orders and order lines.

    Revenue is net: completed orders' merchandise lines minus cancelled ones (a cancellation
    is a credit note for an earlier sale), so postage, fees and refunded sales do not
    inflate it. Customers are those with a completed order.
    """
    orders = ws.table("orders")
    lines = ws.table("order_items")
    items = ws.table("items")
    ov = Overview(currency=ws.config.shop.currency)
    head = (
        orders.aggregate(
            n=orders.count(),
            guests=orders.user_id.isnull().sum(),
            cancelled=(orders.status == "cancelled").sum(),
            first=orders.ts.min(),
            last=orders.ts.max(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    ov.orders, ov.first_order, ov.last_order = int(head["n"]), head["first"], head["last"]
    ov.guest_orders, ov.cancelled_orders = int(head["guests"] or 0), int(head["cancelled"] or 0)
    done = orders.filter((orders.status == "completed") & orders.user_id.notnull())
    per_user = done.group_by("user_id").aggregate(n=done.count())
    cust = per_user.aggregate(c=per_user.count(), rep=(per_user.n >= 2).sum())
    row = cust.to_pyarrow().to_pylist()[0]
    ov.customers, ov.repeat_customers = int(row["c"] or 0), int(row["rep"] or 0)

    # net sales: a cancellation (credit note) subtracts what it cancels
    signed = orders.filter(orders.status.isin(["completed", "cancelled"]))
    signed = signed.mutate(sign=(signed.status == "cancelled").ifelse(-1, 1))
    sold = lines.join(signed.select("order_id", "user_id", "ts", "sign"), "order_id").join(
        items.select("item_id", "title", "is_merchandise"), "item_id", how="left"
    )
    sold = sold.filter(sold.is_merchandise.fill_null(True))
    sold = sold.mutate(value=(sold.quantity * sold.unit_price * sold.sign).cast("float64"))
    ov.revenue = float(sold.value.sum().execute() or 0.0)
    completed = int(done.count().execute())
    ov.average_order_value = ov.revenue / completed if completed else 0.0
    ov.top_items = (
        sold.group_by("item_id", "title")
        .aggregate(revenue=sold.value.sum(), buyers=sold.user_id.nunique(where=sold.sign > 0))
        .order_by(ibis.desc("revenue"))
        .limit(top)
        .to_pyarrow()
        .to_pylist()
    )
    month = sold.mutate(month=sold.ts.truncate("M").date())
    ov.monthly = (
        month.group_by("month")
        .aggregate(revenue=month.value.sum(), customers=month.user_id.nunique())
        .order_by("month")
        .to_pyarrow()
        .to_pylist()
    )
    users = ws.table("users")
    buyers = users.semi_join(done, "user_id")
    ov.top_countries = (
        buyers.filter(buyers.country.notnull())
        .group_by("country")
        .aggregate(customers=ibis._.count())
        .order_by(ibis.desc("customers"))
        .limit(top)
        .to_pyarrow()
        .to_pylist()
    )
    return ov
