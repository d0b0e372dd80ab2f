"""What a workspace holds, in the terms a shop owner and an operator ask about.

:func:`table_status` answers "what data is in here and where did it come from" (``portrait
status``); :func:`shop_overview` answers "how is the shop doing" (the demo's summary):
customers, orders, revenue, repeat buyers, cancellations, best sellers. Both are a handful
of aggregate queries over the warehouse.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis

from portrait import history, schema
from portrait.facts import Fact
from portrait.labels import Label
from portrait.workspace import Workspace

#: the column that dates each table's rows
_TIME_COLUMN = {"users": "signup_ts", "events": "ts", "orders": "ts", "reviews": "ts"}


class TableStatus(Fact):
    """A canonical table: its rows, the time they span, and the files they came from."""

    name: str
    label: Label
    rows: int
    first: datetime | None
    last: datetime | None
    #: "file name (preset)" of every ingest that filled it
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
        tbl = schema.TABLES[name]
        out.append(TableStatus(name=name, label=Label(en=tbl.en, zh=tbl.zh), rows=int(row["n"]),
                               first=row.get("first"), last=row.get("last"),
                               sources=sources))  # fmt: skip
    return out


class IdentitySummary(Fact):
    """How many ids the identity map links to how many people."""

    #: ids linked to a person (per-order customer ids, member ids ...)
    aliases: int
    #: the people they belong to
    people: int


def identity_summary(ws: Workspace) -> IdentitySummary:
    """The merge the ``identities`` table makes: ids into people."""
    t = ws.table("identities")
    row = t.aggregate(aliases=t["alias"].nunique(), people=t["person"].nunique()).to_pyarrow()
    counts = row.to_pylist()[0]
    return IdentitySummary(aliases=int(counts["aliases"] or 0), people=int(counts["people"] or 0))


class TopItem(Fact):
    item_id: str
    title: str | None
    revenue: float
    buyers: int


class CountryCount(Fact):
    country: str
    customers: int


class MonthSales(Fact):
    month: date
    revenue: float
    customers: int


class Overview(Fact):
    """How the shop is doing: orders, customers, repeat buyers, revenue, best sellers."""

    currency: str
    first_order: datetime | None = None
    last_order: datetime | None = None
    customers: int = 0
    orders: int = 0
    guest_orders: int = 0
    revenue: float = 0.0
    average_order_value: float = 0.0
    repeat_customers: int = 0
    repeat_share: float = 0.0
    cancelled_orders: int = 0
    top_items: list[TopItem] = []
    top_countries: list[CountryCount] = []
    monthly: list[MonthSales] = []
    #: the month with the most revenue
    peak_month: MonthSales | None = None


def shop_overview(ws: Workspace, *, top: int = 5) -> Overview:
    """Headline numbers from orders and order lines.

    Revenue is net: completed orders' merchandise lines minus cancelled ones (a cancellation
    is a credit note for an earlier sale), so postage, fees and refunded sales do not
    inflate it. Customers are those with a completed order.
    """
    tables = history.tables(ws.con)  # every alias attributed to its person
    orders, lines, items = tables["orders"], tables["order_items"], tables["items"]
    ov: dict[str, Any] = {"currency": ws.config.shop.currency}
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
    ov |= {"orders": int(head["n"]), "first_order": head["first"], "last_order": head["last"],
           "guest_orders": int(head["guests"] or 0),
           "cancelled_orders": int(head["cancelled"] or 0)}  # fmt: skip
    done = orders.filter((orders.status == "completed") & orders.user_id.notnull())
    per_user = done.group_by("user_id").aggregate(n=done.count())
    cust = per_user.aggregate(c=per_user.count(), rep=(per_user.n >= 2).sum())
    row = cust.to_pyarrow().to_pylist()[0]
    ov["customers"], ov["repeat_customers"] = int(row["c"] or 0), int(row["rep"] or 0)
    ov["repeat_share"] = ov["repeat_customers"] / ov["customers"] if ov["customers"] else 0.0

    # net sales: a cancellation (credit note) subtracts what it cancels
    signed = orders.filter(orders.status.isin(["completed", "cancelled"]))
    signed = signed.mutate(sign=(signed.status == "cancelled").ifelse(-1, 1))
    sold = lines.join(signed.select("order_id", "user_id", "ts", "sign"), "order_id").join(
        items.select("item_id", "title", "is_merchandise"), "item_id", how="left"
    )
    sold = sold.filter(sold.is_merchandise.fill_null(True))
    sold = sold.mutate(value=(sold.quantity * sold.unit_price * sold.sign).cast("float64"))
    ov["revenue"] = float(sold.value.sum().execute() or 0.0)
    completed = int(done.count().execute())
    ov["average_order_value"] = ov["revenue"] / completed if completed else 0.0
    ov["top_items"] = (
        sold.group_by("item_id", "title")
        .aggregate(revenue=sold.value.sum(), buyers=sold.user_id.nunique(where=sold.sign > 0))
        .order_by(ibis.desc("revenue"))
        .limit(top)
        .to_pyarrow()
        .to_pylist()
    )
    month = sold.mutate(month=sold.ts.truncate("M").date())
    ov["monthly"] = (
        month.group_by("month")
        .aggregate(revenue=month.value.sum(), customers=month.user_id.nunique())
        .order_by("month")
        .to_pyarrow()
        .to_pylist()
    )
    users = tables["users"]
    buyers = users.semi_join(done, "user_id")
    ov["top_countries"] = (
        buyers.filter(buyers.country.notnull())
        .group_by("country")
        .aggregate(customers=ibis._.count())
        .order_by(ibis.desc("customers"))
        .limit(top)
        .to_pyarrow()
        .to_pylist()
    )
    if ov["monthly"]:
        ov["peak_month"] = max(ov["monthly"], key=lambda m: m["revenue"])
    return Overview(**ov)
