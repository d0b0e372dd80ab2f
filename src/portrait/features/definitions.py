"""Every feature of a customer's portrait, defined once for both engines.

Windows are named in the feature (``orders_90d``); features without a window use all history
before the as-of date. Days are local days of the shop. Rates are null, not zero, when their
denominator is zero: a customer who never carted has no cart-to-purchase rate.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait.asof import AsOf
from portrait.features._registry import Feature, block, register

WINDOWS = (7, 30, 90, 365)


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return num.cast(dt.float64) / den.cast(dt.float64).nullif(0)


# -- purchases: recency, frequency, monetary value and habits ---------------------------------

register(
    Feature(
        "recency_days",
        "int",
        "Days since the last purchase.",
        "距最近一次购买的天数",
        "purchases",
        needs=("purchases",),
        unit="days",
        agg=lambda t, c: c.days_before(t.ts.max(where=t.completed)),
    )
)
register(
    Feature(
        "frequency",
        "int",
        "Completed purchases (orders), all history.",
        "累计购买次数（订单数）",
        "purchases",
        needs=("purchases",),
        unit="orders",
        default=0,
        agg=lambda t, c: t.order_id.count(where=t.completed),
    )
)
register(
    Feature(
        "monetary",
        "float",
        "Money spent on completed purchases, all history.",
        "累计消费金额",
        "purchases",
        needs=("purchases", "amount"),
        unit="money",
        default=0,
        agg=lambda t, c: t.amount.sum(where=t.completed).fill_null(0),
    )
)
for _days in WINDOWS:
    register(
        Feature(
            f"orders_{_days}d",
            "int",
            f"Completed purchases in the last {_days} days.",
            f"近{_days}天购买次数",
            "purchases",
            window=_days,
            needs=("purchases",),
            unit="orders",
            default=0,
            agg=lambda t, c, d=_days: t.order_id.count(
                where=t.completed & (t.ts >= c.window_start(d))
            ),
        )
    )
    register(
        Feature(
            f"monetary_{_days}d",
            "float",
            f"Money spent in the last {_days} days.",
            f"近{_days}天消费金额",
            "purchases",
            window=_days,
            needs=("purchases", "amount"),
            unit="money",
            default=0,
            agg=lambda t, c, d=_days: t.amount.sum(
                where=t.completed & (t.ts >= c.window_start(d))
            ).fill_null(0),
        )
    )
register(
    Feature(
        "days_since_first_purchase",
        "int",
        "Days since the first purchase.",
        "距首次购买的天数",
        "purchases",
        needs=("purchases",),
        unit="days",
        agg=lambda t, c: c.days_before(t.ts.min(where=t.completed)),
    )
)
register(
    Feature(
        "inter_purchase_days",
        "float",
        "Average days between purchases (first to last over purchases minus one); null with one.",
        "平均购买间隔天数",
        "purchases",
        needs=("purchases",),
        unit="days",
        agg=lambda t, c: _ratio(
            c.local_day(t.ts.max(where=t.completed)) - c.local_day(t.ts.min(where=t.completed)),
            (t.order_id.count(where=t.completed) - 1).nullif(0),
        ),
    )
)


@block("purchase_gaps", "purchases", [
    Feature("last_gap_days", "int",
            "Days between the last two purchase days; null with fewer than two.",
            "最近两次购买间隔天数", "purchases", needs=("purchases",), unit="days"),
])  # fmt: skip
def _purchase_gaps(purchases: ir.Table, ctx: AsOf) -> ir.Table:
    done = purchases.filter(purchases.completed)
    days = done.select("user_id", day=ctx.local_day(done.ts)).distinct()
    w = ibis.window(group_by=days.user_id, order_by=ibis.desc(days.day))
    ranked = days.mutate(_rank=ibis.row_number().over(w))
    last_two = ranked.filter(ranked._rank <= 1)
    return last_two.group_by("user_id").aggregate(
        last_gap_days=(last_two.day.max() - last_two.day.min()).nullif(0)
    )


register(
    Feature(
        "cancel_rate",
        "float",
        "Share of orders cancelled or returned.",
        "取消/退货订单占比",
        "purchases",
        needs=("purchases",),
        unit="share",
        agg=lambda t, c: _ratio(t.cancelled.sum(), t.order_id.count()),
    )
)
register(
    Feature(
        "discount_share",
        "float",
        "Discounts as a share of the list value of purchases.",
        "优惠金额占比",
        "purchases",
        needs=("purchases", "discount"),
        unit="share",
        agg=lambda t, c: _ratio(
            t.discount.sum(where=t.completed),
            t.amount.sum(where=t.completed) + t.discount.sum(where=t.completed),
        ),
    )
)
register(
    Feature(
        "avg_order_value",
        "float",
        "Average money per completed purchase.",
        "客单价（平均订单金额）",
        "derived",
        needs=("purchases", "amount"),
        unit="money",
        derive=lambda f: _ratio(f.monetary, f.frequency),
    )
)

# -- lines: basket, price level, category and brand affinity ---------------------------------

register(
    Feature(
        "basket_size",
        "float",
        "Average units per purchase.",
        "平均每单件数",
        "lines",
        needs=("purchases", "quantity"),
        unit="units",
        agg=lambda t, c: _ratio(t.quantity.sum(), t.order_id.nunique()),
    )
)
register(
    Feature(
        "distinct_items",
        "int",
        "Different products bought.",
        "购买过的不同商品数",
        "lines",
        needs=("purchases",),
        unit="items",
        default=0,
        agg=lambda t, c: t.item_id.nunique(),
    )
)


@block(
    "price_level",
    "lines",
    [
        Feature(
            "price_level",
            "float",
            "Average price paid relative to the median price of the same category (1 = median).",
            "价格水平（相对同类目中位价，1为中位）",
            "lines",
            needs=("purchases", "category", "price"),
            unit="ratio",
        ),
    ],
)
def _price_level(lines: ir.Table, ctx: AsOf) -> ir.Table:
    priced = lines.filter(lines.category.notnull(), lines.unit_price > 0)
    medians = priced.group_by("category").aggregate(median_price=priced.unit_price.median())
    joined = priced.join(medians, "category")
    return joined.group_by("user_id").aggregate(
        price_level=(joined.unit_price / joined.median_price).mean()
    )


def _top(lines: ir.Table, key: str, prefix: str) -> ir.Table:
    """The customer's most bought ``key`` (by units; ties go to the first name) and its share."""
    known = lines.filter(lines[key].notnull())
    per = known.group_by(["user_id", key]).aggregate(units=known.quantity.fill_null(1).sum())
    w = ibis.window(group_by=per.user_id, order_by=[ibis.desc(per.units), per[key]])
    ranked = per.mutate(
        _rank=ibis.row_number().over(w),
        _total=per.units.sum().over(ibis.window(group_by=per.user_id)),
        _n=per[key].count().over(ibis.window(group_by=per.user_id)),
    )
    top = ranked.filter(ranked._rank == 0)
    return top.select(
        "user_id",
        **{
            f"top_{prefix}": top[key],
            f"top_{prefix}_share": _ratio(top.units, top._total),
            f"{prefix}_count": top._n.cast(dt.int64),
        },
    )


@block(
    "category_affinity",
    "lines",
    [
        Feature(
            "top_category",
            "string",
            "Category bought most (by units).",
            "最常购买的类目",
            "lines",
            needs=("purchases", "category"),
        ),
        Feature(
            "top_category_share",
            "float",
            "Share of units bought in the top category.",
            "首选类目购买占比",
            "lines",
            needs=("purchases", "category"),
            unit="share",
        ),
        Feature(
            "category_count",
            "int",
            "Different categories bought.",
            "购买过的类目数",
            "lines",
            needs=("purchases", "category"),
            unit="categories",
        ),
    ],
)
def _category_affinity(lines: ir.Table, ctx: AsOf) -> ir.Table:
    return _top(lines, "category", "category")


@block(
    "brand_affinity",
    "lines",
    [
        Feature(
            "top_brand",
            "string",
            "Brand bought most (by units).",
            "最常购买的品牌",
            "lines",
            needs=("purchases", "brand"),
        ),
        Feature(
            "top_brand_share",
            "float",
            "Share of units bought from the top brand.",
            "首选品牌购买占比",
            "lines",
            needs=("purchases", "brand"),
            unit="share",
        ),
        Feature(
            "brand_count",
            "int",
            "Different brands bought.",
            "购买过的品牌数",
            "lines",
            needs=("purchases", "brand"),
            unit="brands",
        ),
    ],
)
def _brand_affinity(lines: ir.Table, ctx: AsOf) -> ir.Table:
    return _top(lines, "brand", "brand")


# -- events: the behaviour funnel -------------------------------------------------------------

_FUNNEL = {"views": "view", "favs": "fav", "carts": "cart", "purchase_events": "order"}
_FUNNEL_ZH = {"views": "浏览", "favs": "收藏", "carts": "加购", "purchase_events": "购买行为"}
for _name, _type in _FUNNEL.items():
    register(
        Feature(
            _name,
            "int",
            f"'{_type}' events, all history.",
            f"{_FUNNEL_ZH[_name]}次数",
            "events",
            needs=("events",),
            unit="events",
            default=0,
            agg=lambda t, c, e=_type: (t.event_type == e).sum().fill_null(0),
        )
    )
    register(
        Feature(
            f"{_name}_30d",
            "int",
            f"'{_type}' events in the last 30 days.",
            f"近30天{_FUNNEL_ZH[_name]}次数",
            "events",
            window=30,
            needs=("events",),
            unit="events",
            default=0,
            agg=lambda t, c, e=_type: (
                ((t.event_type == e) & (t.ts >= c.window_start(30))).sum().fill_null(0)
            ),
        )
    )
register(
    Feature(
        "view_to_cart_rate",
        "float",
        "Carts per view.",
        "浏览-加购转化率",
        "derived",
        needs=("events",),
        unit="rate",
        derive=lambda f: _ratio(f.carts, f.views),
    )
)
register(
    Feature(
        "cart_to_purchase_rate",
        "float",
        "Purchase events per cart.",
        "加购-购买转化率",
        "derived",
        needs=("events",),
        unit="rate",
        derive=lambda f: _ratio(f.purchase_events, f.carts),
    )
)
register(
    Feature(
        "view_to_purchase_rate",
        "float",
        "Purchase events per view.",
        "浏览-购买转化率",
        "derived",
        needs=("events",),
        unit="rate",
        derive=lambda f: _ratio(f.purchase_events, f.views),
    )
)


register(Feature(
    "cart_abandonment_rate", "float", "Share of products put in the cart that were never bought.",
    "加购未购买商品占比", "carts", needs=("events",), unit="share",
    agg=lambda t, c: _ratio((~t.bought).sum(), t.count()),
))  # fmt: skip


# -- time habits --------------------------------------------------------------------------------


@block(
    "time_habits",
    "activity",
    [
        Feature(
            "peak_hour",
            "int",
            "Local hour of day with the most activity (ties: earliest).",
            "最活跃时段（小时）",
            "activity",
            unit="hour",
        ),
        Feature(
            "weekend_share",
            "float",
            "Share of activity on Saturdays and Sundays.",
            "周末活跃占比",
            "activity",
            unit="share",
        ),
        Feature(
            "active_days",
            "int",
            "Different local days with activity.",
            "活跃天数",
            "activity",
            unit="days",
            default=0,
        ),
        Feature(
            "active_days_30d",
            "int",
            "Different local days with activity, last 30 days.",
            "近30天活跃天数",
            "activity",
            window=30,
            unit="days",
            default=0,
        ),
    ],
)
def _time_habits(activity: ir.Table, ctx: AsOf) -> ir.Table:
    local = ctx.local(activity.ts)
    a = activity.mutate(
        _hour=local.hour().cast(dt.int64),
        _weekend=local.day_of_week.index() >= 5,
        _day=ctx.local_day(activity.ts),
    )
    per_hour = a.group_by(["user_id", "_hour"]).aggregate(n=a.count())
    w = ibis.window(group_by=per_hour.user_id, order_by=[ibis.desc(per_hour.n), per_hour._hour])
    peak = (
        per_hour.mutate(_rank=ibis.row_number().over(w))
        .filter(ibis._._rank == 0)
        .select("user_id", peak_hour="_hour")
    )
    recent = ibis.literal(ctx.day_number - 30, dt.int64)
    habits = a.group_by("user_id").aggregate(
        weekend_share=_ratio(a._weekend.sum(), a.count()),
        active_days=a._day.nunique(),
        active_days_30d=a._day.nunique(where=a._day >= recent),
    )
    return habits.join(peak, "user_id")


# -- reviews and tenure -------------------------------------------------------------------------

register(
    Feature(
        "review_count",
        "int",
        "Reviews written.",
        "评价次数",
        "reviews",
        needs=("reviews",),
        unit="reviews",
        default=0,
        agg=lambda t, c: t.count(),
    )
)
register(
    Feature(
        "avg_rating",
        "float",
        "Average star rating given (1-5).",
        "平均评分",
        "reviews",
        needs=("reviews", "rating"),
        unit="stars",
        agg=lambda t, c: t.rating.mean(),
    )
)
register(
    Feature(
        "tenure_days",
        "int",
        "Days since the customer was first seen (signup or first activity).",
        "客户年龄（首次出现至今天数）",
        "first_seen",
        unit="days",
        agg=lambda t, c: c.days_before(t.first_ts.min()),
    )
)
