"""The leakage-safe view of the warehouse as of a date: every stage's inputs, cut there.

A shop may have an orders table (Online Retail), only a behaviour log whose ``order`` events
are its purchases (Taobao), or both. The sources below hide that difference: ``purchases``
has one row per purchase of a known customer, ``lines`` one row per product bought, from the
orders tables when the shop has them and from order events otherwise. Every source is
filtered to rows strictly before the cutoff: this is the one place where leakage of the
future could happen, so it is the one place that prevents it.

:func:`available` probes once which inputs the shop's data has, so that a feature whose
inputs are missing is null with a reason instead of a made-up zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait import schema
from portrait.asof import AsOf

#: the data a feature needs; a shop without it gets the feature as null, with the reason
Need = Literal["purchases", "amount", "discount", "quantity", "category", "brand", "price",
               "events", "reviews", "rating"]  # fmt: skip

PURCHASE_EVENTS = ("order",)
#: the tables whose rows name a customer, by ``user_id``
ATTRIBUTED = ("users", "events", "orders", "reviews")


def tables(con: ibis.BaseBackend) -> dict[str, ir.Table]:
    """Every canonical table, with each row that names an alias attributed to its person.

    A marketplace export names a customer by a new id on every order and keeps the person's
    id elsewhere; the ``identities`` table links each such alias to the person, and every
    stage reads the tables through here, so features, segments, value and recommendations
    all see the person. With no identities this is the tables as they are.
    """
    out = {name: con.table(name) for name in schema.TABLES}
    links = out["identities"]
    if int(links.count().execute()) == 0:
        return out
    links = links.select(_alias="alias", _person="person")
    for name in ATTRIBUTED:
        t = out[name]
        joined = t.left_join(links, t.user_id == links._alias)
        resolved = joined.select(
            *[joined._person.coalesce(joined.user_id).name(c) if c == "user_id" else joined[c]
              for c in t.columns]
        )  # fmt: skip
        if name == "users":  # one row per person (the person's own row, or an alias's)
            resolved = (
                resolved.group_by("user_id")
                .aggregate(**{c: resolved[c].arbitrary() for c in t.columns if c != "user_id"})
                .select(*t.columns)
            )
        out[name] = resolved
    return out


def person_of(con: ibis.BaseBackend, user_id: str) -> str:
    """The person an id names: itself, or the person the identities table links it to."""
    links = con.table("identities")
    rows = links.filter(links["alias"] == user_id).select("person").limit(1).to_pyarrow()
    return str(rows.column("person")[0].as_py()) if rows.num_rows else user_id


def alias_links(con: ibis.BaseBackend) -> list[tuple[str, str]]:
    """Every ``(alias, person)`` of the identities table, one per alias."""
    links = con.table("identities").select("alias", "person").distinct(on="alias")
    return [(str(r["alias"]), str(r["person"])) for r in links.to_pyarrow().to_pylist()]


def event_ids(con: ibis.BaseBackend) -> list[str]:
    """The ids of every stored event (to tell a resent event from a new one)."""
    return [str(x) for x in con.table("events").event_id.to_pyarrow().to_pylist()]


def uses_orders(counts: Mapping[str, int]) -> bool:
    """Purchases come from the orders table when it has rows, else from order events."""
    return counts["orders"] > 0


def probe(tables: Mapping[str, ir.Table]) -> dict[str, int]:
    """Rows and non-null counts of the columns features depend on: one query per table."""
    o, oi, i, e, r = (tables[n] for n in ("orders", "order_items", "items", "events", "reviews"))
    queries = {
        "orders": o.aggregate(
            orders=o.count(), amount=o.amount.count(), discount=o.discount.count()
        ),
        "order_items": oi.aggregate(
            lines=oi.count(), quantity=oi.quantity.count(), price=oi.unit_price.count()
        ),
        "items": i.aggregate(category=i.category.count(), brand=i.brand.count()),
        "events": e.aggregate(
            events=e.count(),
            order_events=e.event_type.isin(PURCHASE_EVENTS).sum().fill_null(0),
            event_value=e.value.count(),
            event_quantity=e.quantity.count(),
        ),
        "reviews": r.aggregate(
            reviews=r.user_id.count(), rating=r.rating.count(where=r.user_id.notnull())
        ),
    }
    counts: dict[str, int] = {}
    for q in queries.values():
        counts |= {k: int(v or 0) for k, v in q.to_pyarrow().to_pylist()[0].items()}
    return counts


def available(counts: Mapping[str, int]) -> dict[Need, bool]:
    """Which needs the shop's data satisfies."""
    from_orders = uses_orders(counts)
    return {
        "purchases": from_orders or counts["order_events"] > 0,
        "amount": (counts["amount"] > 0 or counts["price"] > 0)
        if from_orders
        else counts["event_value"] > 0,
        "discount": from_orders and counts["discount"] > 0,
        "quantity": counts["quantity"] > 0 if from_orders else counts["event_quantity"] > 0,
        "category": counts["category"] > 0,
        "brand": counts["brand"] > 0,
        "price": (counts["price"] > 0) if from_orders else counts["event_value"] > 0,
        "events": counts["events"] > 0,
        "reviews": counts["reviews"] > 0,
        "rating": counts["rating"] > 0,
    }


def _money(value: ir.Value) -> ir.FloatingValue:
    return value.cast(dt.float64)


def orders(tables: Mapping[str, ir.Table], ctx: AsOf, counts: Mapping[str, int]) -> ir.Table:
    """Every order of a known customer before the cutoff, completed or not.

    Columns: user_id, order_id, ts, completed, cancelled (cancelled or returned), amount,
    discount. From order events, one order is the events of a customer at one instant.
    """
    cutoff = ctx.cutoff_literal()
    if uses_orders(counts):
        o = tables["orders"]
        o = o.filter(o.user_id.notnull(), o.ts < cutoff)
        status = o.status.fill_null("completed")
        amount = _money(o.amount)
        if counts["amount"] < counts["orders"] and counts["price"] > 0:
            # an order without an amount gets its lines' (quantity x unit price - discount)
            totals = line_totals(tables).rename(_order="order_id")
            o = o.left_join(totals, o.order_id == totals._order)
            amount = _money(o.amount).coalesce(o.lines_total - _money(o.discount).fill_null(0))
        return o.select(
            "user_id",
            "order_id",
            "ts",
            completed=status == "completed",
            cancelled=status.isin(("cancelled", "returned")),
            amount=amount,
            discount=_money(o.discount),
        )
    e = tables["events"]
    e = e.filter(e.event_type.isin(PURCHASE_EVENTS), e.ts < cutoff)
    per = e.group_by(["user_id", "ts"]).aggregate(amount=_money(e.value.sum()))
    return per.select(
        "user_id",
        order_id=per.user_id.concat("@", per.ts.cast(dt.string)),
        ts=per.ts,
        completed=ibis.literal(True),
        cancelled=ibis.literal(False),
        amount=per.amount,
        discount=ibis.null(dt.float64),
    )


def line_totals(tables: Mapping[str, ir.Table]) -> ir.Table:
    """Each order's lines summed: ``order_id``, ``lines_total`` (quantity x unit price)."""
    oi = tables["order_items"]
    value = oi.quantity.cast(dt.float64) * _money(oi.unit_price)
    return oi.group_by("order_id").aggregate(lines_total=value.sum())


def amount_disagreements(tables: Mapping[str, ir.Table]) -> ir.Table:
    """Orders whose amount and lines (quantity x unit price - discount) differ by more than
    rounding (a cent, or half a percent of the amount): one row of ``orders``, ``gap``."""
    o = tables["orders"].filter(ibis._.amount.notnull())
    totals = line_totals(tables).rename(_order="order_id")
    both = o.join(totals, o.order_id == totals._order)
    gap = _money(both.amount) - (both.lines_total - _money(both.discount).fill_null(0))
    tolerance = ibis.greatest(0.01, _money(both.amount).abs() * 0.005)
    return both.filter(gap.abs() > tolerance).select(orders=ibis._.order_id, gap=gap)


def lines(tables: Mapping[str, ir.Table], ctx: AsOf, counts: Mapping[str, int]) -> ir.Table:
    """Every product bought in a completed purchase before the cutoff, with its item's data.

    Columns: user_id, order_id, ts, item_id, quantity, unit_price, amount, category (its top
    level), brand.
    """
    items = tables["items"].select(
        "item_id",
        category=tables["items"].category.split("/")[0].strip().nullif(""),
        brand=tables["items"].brand,
    )
    if uses_orders(counts):
        o = orders(tables, ctx, counts).filter(ibis._.completed)
        oi = tables["order_items"]
        joined = oi.join(o.select("order_id", "user_id", "ts"), "order_id")
        base = joined.select(
            "user_id",
            "order_id",
            "ts",
            "item_id",
            quantity=joined.quantity,
            unit_price=_money(joined.unit_price),
        )
    else:
        e = tables["events"]
        e = e.filter(e.event_type.isin(PURCHASE_EVENTS), e.ts < ctx.cutoff_literal())
        quantity = e.quantity.fill_null(1)
        base = e.select(
            "user_id",
            order_id=e.user_id.concat("@", e.ts.cast(dt.string)),
            ts=e.ts,
            item_id=e.item_id,
            quantity=quantity,
            unit_price=_money(e.value) / quantity.cast(dt.float64),
        )
    base = base.mutate(amount=base.unit_price * base.quantity.cast(dt.float64))
    return base.left_join(items, "item_id").drop("item_id_right")


def events(tables: Mapping[str, ir.Table], ctx: AsOf) -> ir.Table:
    e = tables["events"]
    return e.filter(e.ts < ctx.cutoff_literal())


def carts(tables: Mapping[str, ir.Table], ctx: AsOf, counts: Mapping[str, int]) -> ir.Table:
    """Each product a customer put in the cart before the cutoff, and whether they bought it
    (in a completed purchase before the cutoff: order lines, or order events with an item)."""
    e = events(tables, ctx)
    carted = e.filter(e.event_type == "cart", e.item_id.notnull()).select("user_id", "item_id")
    bought = lines(tables, ctx, counts).select("user_id", "item_id").distinct()
    flagged = carted.distinct().left_join(
        bought.mutate(_bought=ibis.literal(True)), ["user_id", "item_id"]
    )
    return flagged.select("user_id", "item_id", bought=flagged._bought.fill_null(False))


def activity(tables: Mapping[str, ir.Table], ctx: AsOf, counts: Mapping[str, int]) -> ir.Table:
    """When each customer was active: behaviour events if the shop logs them, else purchases."""
    if counts["events"] > 0:
        return events(tables, ctx).select("user_id", "ts")
    return orders(tables, ctx, counts).select("user_id", "ts")


def reviews(tables: Mapping[str, ir.Table], ctx: AsOf) -> ir.Table:
    """Reviews by known customers before the cutoff (an undated review cannot be placed)."""
    r = tables["reviews"]
    return r.filter(r.user_id.notnull(), r.ts < ctx.cutoff_literal())


def first_seen(tables: Mapping[str, ir.Table], ctx: AsOf, counts: Mapping[str, int]) -> ir.Table:
    """Every known customer and the first time the shop saw them, before the cutoff.

    Customers come from all tables: registered users who signed up before the cutoff, buyers,
    the behaviour log and reviewers. A user row without a signup date counts only once the
    customer has done something before the cutoff: otherwise a customer who first appears
    later would leak into an earlier portrait.
    """
    cutoff = ctx.cutoff_literal()
    u = tables["users"]
    parts = [
        u.filter(u.signup_ts < cutoff).select("user_id", ts=u.signup_ts),
        orders(tables, ctx, counts).select("user_id", "ts"),
        events(tables, ctx).select("user_id", "ts"),
        reviews(tables, ctx).select("user_id", "ts"),
    ]
    seen = ibis.union(*parts)
    return seen.group_by("user_id").aggregate(first_ts=seen.ts.min())
