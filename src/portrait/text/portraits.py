"""What reviews say about each customer and each item: the text stage's portrait tables.

``user_text`` marks customers whose reviews keep returning to one concern: 物流敏感
(logistics-sensitive), 价格敏感 (price-sensitive), 品质关注 (quality-focused), the tags
:data:`portrait.tags.catalogue.TEXT_CONCERNS` names. A customer has
the mark when the aspect is named in at least a third of their reviews (and at least one):
someone who writes about delivery in one review of ten mentioned it in passing, someone who
does in every other review cares. Customers with no reviews have no value, so the tags'
coverage is the share of customers who wrote a review, like any other tag's.

``item_text`` gives each reviewed item its review count, shares of positive and negative
reviews, its top complaint and top praise (the aspects with the most negative and positive
clause mentions, ties by name) and its category's share of negative reviews, so a bad item is
told apart from a bad category. All of it is one Ibis query per table over the stage's own
``review_sentiment`` and ``review_aspects``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait.errors import NotFoundError
from portrait.facts import Fact
from portrait.labels import Label
from portrait.tags.catalogue import TEXT_CONCERNS

if TYPE_CHECKING:
    from portrait.workspace import Workspace

__all__ = [
    "MIN_SHARE",
    "AspectCount",
    "ItemReviews",
    "item_reviews",
    "item_text_table",
    "user_text_table",
]

#: the least share of a customer's reviews that must name the aspect
MIN_SHARE = 1 / 3


def _review_aspects(sentiment: ir.Table, aspects: ir.Table) -> ir.Table:
    """One row per (review, aspect) with the review's user and item and how many of its
    clauses judge the aspect positively and negatively."""
    per = aspects.group_by(["review_id", "aspect"]).aggregate(
        positive=(aspects.polarity == "positive").sum(),
        negative=(aspects.polarity == "negative").sum(),
    )
    return per.join(sentiment.select("review_id", "user_id", "item_id"), "review_id")


def user_text_table(sentiment: ir.Table, aspects: ir.Table) -> ir.Table:
    """Per reviewing customer: reviews, negative share, reviews per concern and its mark."""
    s = sentiment.filter(sentiment.user_id.notnull())
    base = s.group_by("user_id").aggregate(
        reviews=s.count(),
        negative_share=(s.sentiment == "negative").sum().cast(dt.float64)
        / s.sentiment.notnull().sum().nullif(0).cast(dt.float64),
    )
    ra = _review_aspects(s, aspects)
    counts = ra.group_by("user_id").aggregate(
        **{f"{aspect}_reviews": (ra.aspect == aspect).sum() for aspect in TEXT_CONCERNS.values()}
    )
    joined = base.left_join(counts, "user_id").drop("user_id_right")
    out: dict[str, ir.Value] = {}
    for column, aspect in TEXT_CONCERNS.items():
        n = joined[f"{aspect}_reviews"].fill_null(0)
        out[f"{aspect}_reviews"] = n.cast(dt.int64)
        out[column] = (n >= 1) & (n.cast(dt.float64) >= joined.reviews * MIN_SHARE)
    return joined.select("user_id", "reviews", "negative_share", **out)


def item_text_table(sentiment: ir.Table, aspects: ir.Table, items: ir.Table) -> ir.Table:
    """Per reviewed item: reviews, shares, top complaint and praise, and its category's
    negative share."""
    s = sentiment.filter(sentiment.item_id.notnull())
    cats = items.select("item_id", "category")
    s = s.left_join(cats, "item_id").drop("item_id_right")
    scored = s.sentiment.notnull().sum().nullif(0).cast(dt.float64)
    base = s.group_by("item_id").aggregate(
        category=s.category.arbitrary(),
        reviews=s.count(),
        positive_share=(s.sentiment == "positive").sum().cast(dt.float64) / scored,
        negative_share=(s.sentiment == "negative").sum().cast(dt.float64) / scored,
        mean_score=s.score.mean(),
    )
    by_cat = s.filter(s.category.notnull())
    cat_scored = by_cat.sentiment.notnull().sum().nullif(0).cast(dt.float64)
    categories = by_cat.group_by("category").aggregate(
        category_negative_share=(by_cat.sentiment == "negative").sum().cast(dt.float64) / cat_scored
    )
    ra = _review_aspects(s, aspects)
    per = ra.group_by(["item_id", "aspect"]).aggregate(
        positive=(ra.positive > 0).sum(), negative=(ra.negative > 0).sum()
    )
    joined = base.left_join(categories, "category").drop("category_right")
    for kind, column in (("complaint", "negative"), ("praise", "positive")):
        ranked = per.filter(per[column] > 0).mutate(
            _rank=ibis.row_number().over(group_by="item_id", order_by=[ibis.desc(column), "aspect"])
        )
        top = ranked.filter(ranked._rank == 0).select(
            "item_id", **{f"top_{kind}": ranked.aspect, f"top_{kind}_reviews": ranked[column]}
        )
        joined = joined.left_join(top, "item_id").drop("item_id_right")
    return joined.select(
        "item_id", "category", "reviews", "positive_share", "negative_share", "mean_score",
        "top_complaint", joined.top_complaint_reviews.cast(dt.int64).name("top_complaint_reviews"),
        "top_praise", joined.top_praise_reviews.cast(dt.int64).name("top_praise_reviews"),
        "category_negative_share",
    )  # fmt: skip


# -- facts ------------------------------------------------------------------------------------
class AspectCount(Fact):
    """An aspect, and how many of an item's reviews praise and criticise it."""

    aspect: str
    label: Label
    positive_reviews: int
    negative_reviews: int


class ItemReviews(Fact):
    """What one item's reviews say: shares, aspects, and a few reviews to read."""

    item_id: str
    category: str | None
    reviews: int
    positive_share: float | None
    negative_share: float | None
    mean_score: float | None
    top_complaint: str | None
    top_praise: str | None
    category_negative_share: float | None
    #: every aspect named, the most mentioned first
    aspects: list[AspectCount]
    #: up to three positive and three negative review texts, the most confident first
    praise_examples: list[str]
    complaint_examples: list[str]


def item_reviews(ws: Workspace, item_id: str, *, examples: int = 3) -> ItemReviews:
    """What the reviews of ``item_id`` say, from the built ``item_text`` and
    ``review_aspects`` tables. Raises :class:`NotFoundError` when the item has no reviews."""
    from portrait.text.aspects import ASPECTS

    ws.require("item_text", "review_aspects", "review_sentiment")
    t = ws.table("item_text")
    rows = t.filter(t.item_id == item_id).to_pyarrow().to_pylist()
    if not rows:
        raise NotFoundError(
            f"No reviews of item {item_id!r} were scored; `portrait reviews` lists the "
            "reviewed items."
        )
    row = rows[0]
    s = ws.table("review_sentiment").filter(ibis._.item_id == item_id)
    a = ws.table("review_aspects")
    ra = _review_aspects(s, a)
    counts = (
        ra.group_by("aspect")
        .aggregate(
            positive_reviews=(ra.positive > 0).sum(), negative_reviews=(ra.negative > 0).sum()
        )
        .mutate(n=ibis._.positive_reviews + ibis._.negative_reviews)
        .order_by([ibis.desc("n"), "aspect"])
        .to_pyarrow()
        .to_pylist()
    )
    reviews = ws.table("reviews").select("review_id", "text")
    texts = s.join(reviews, "review_id")

    def pick(sentiment: str, best_first: ir.Value) -> list[str]:
        chosen = texts.filter(texts.sentiment == sentiment, texts.text.notnull())
        out = chosen.order_by([best_first, "review_id"]).limit(examples).text
        return [str(x) for x in out.to_pyarrow().to_pylist()]

    return ItemReviews(
        **{k: row[k] for k in ("category", "reviews", "positive_share", "negative_share",
                               "mean_score", "top_complaint", "top_praise",
                               "category_negative_share")},
        item_id=str(row["item_id"]),
        aspects=[AspectCount(aspect=c["aspect"], label=ASPECTS.get(c["aspect"])
                             or Label(en=c["aspect"], zh=c["aspect"]),
                             positive_reviews=c["positive_reviews"],
                             negative_reviews=c["negative_reviews"]) for c in counts],
        praise_examples=pick("positive", ibis.desc("score")),
        complaint_examples=pick("negative", ibis.asc("score")),
    )  # fmt: skip
