"""The ``text`` build stage: every review's language and sentiment (``review_sentiment``),
its aspects per clause (``review_aspects``), what the reviews say of each customer and
item (``user_text``, ``item_text``: :mod:`portrait.text.portraits`), and text vectors of
reviews and items (``review_vectors``, ``item_vectors``: :mod:`portrait.text.vectors`).

Reviews are read through :mod:`portrait.history` (aliases resolved to their person) up to
the as-of date; an undated review is kept, since its text does not leak the future of any
customer's behaviour. Language is detected over the Arrow column at once (Han characters
against Latin letters, as :func:`portrait.text.tokenize.language` does), unless the review
carries a ``zh``/``en`` language code. The default model scores every review; when the
shop's reviews carry enough ratings, :func:`portrait.text.sentiment.shop_model` trains the
shop's own and it replaces the default if it validates better on the latest reviews.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from portrait import history
from portrait.asof import AsOf
from portrait.engine import Engine
from portrait.facts import Fact, Note
from portrait.labels import Label
from portrait.schema import OUTPUTS
from portrait.stages import Stage, StageParams, StageResult
from portrait.text.aspects import ASPECTS, aspect_arrow
from portrait.text.portraits import item_text_table, user_text_table
from portrait.text.sentiment import SentimentModel, band, default_model, shop_model
from portrait.text.vectors import text_vectors

if TYPE_CHECKING:
    from portrait.workspace import Workspace

__all__ = [
    "STAGE",
    "ItemSentiment",
    "LanguageSentiment",
    "ReviewSummary",
    "SentimentShare",
    "build_text",
    "choose_sentiment_model",
    "detect_languages",
    "review_summary",
    "score_reviews",
    "sentiment_rows",
]

log = logging.getLogger(__name__)

_COLUMNS = ("review_id", "user_id", "item_id", "lang", "score", "sentiment", "model")


def detect_languages(texts: pa.Array, given: pa.Array | None = None) -> pa.Array:
    """``zh`` or ``en`` for each text, vectorised: a given ``zh*``/``en*`` code wins, else
    ``zh`` when the Han characters times 4 reach the Latin letters (and are not 0)."""
    texts = pc.fill_null(texts, "")
    han = pc.count_substring_regex(texts, r"[\x{3400}-\x{9fff}\x{f900}-\x{faff}]")
    latin = pc.count_substring_regex(texts, r"[A-Za-z]")
    zh = pc.and_(pc.greater(han, 0), pc.greater_equal(pc.multiply(han, 4), latin))
    detected = pc.if_else(zh, "zh", "en")
    if given is None:
        return detected
    code = pc.utf8_slice_codeunits(pc.utf8_lower(pc.fill_null(given, "")), 0, 2)
    known = pc.is_in(code, value_set=pa.array(["zh", "en"]))
    return pc.if_else(known, code, detected)


def score_reviews(reviews: pa.Table) -> tuple[pa.Table, dict[str, Any], list[Note]]:
    """Score an Arrow table of reviews (``review_id``, ``user_id``, ``item_id``, ``text``,
    ``lang``, ``rating``, ``ts``): the ``review_sentiment`` rows, what was chosen, notes."""
    model, which, chosen, notes = choose_sentiment_model(reviews)
    return sentiment_rows(reviews, model, which), chosen | {"model": which}, notes


def choose_sentiment_model(
    reviews: pa.Table,
) -> tuple[SentimentModel, str, dict[str, Any], list[Note]]:
    """The default model, or the shop's own trained on these reviews' ratings if it
    validates better (:func:`shop_model`): (model, ``default``/``shop``, what was measured,
    notes). On Spark the reviews given are the rated ones, the latest first if there are
    more than it collects."""
    text_col = pc.fill_null(pc.utf8_trim_whitespace(reviews["text"].combine_chunks()), "")
    langs = detect_languages(text_col, reviews["lang"].combine_chunks())
    texts: list[str] = text_col.to_pylist()
    default = default_model()
    model, which = default, "default"
    chosen: dict[str, Any] = {}
    notes: list[Note] = []
    if reviews["rating"].null_count < len(reviews):
        ratings = pc.fill_null(reviews["rating"].combine_chunks(), 0).to_numpy(zero_copy_only=False)
        ratings = np.where(np.asarray(texts, dtype=object) == "", 0, ratings)
        order = pc.fill_null(pc.cast(reviews["ts"], pa.int64()), 0).to_numpy(zero_copy_only=False)
        own, chosen = shop_model(texts, ratings.tolist(), langs.to_pylist(), order.tolist(),
                                 default)  # fmt: skip
        if own is not None:
            model, which = own, "shop"
            notes.append(Note.of("shop_sentiment_model", **chosen))
    return model, which, chosen, notes


def sentiment_rows(reviews: pa.Table, model: SentimentModel, which: str) -> pa.Table:
    """The ``review_sentiment`` rows of reviews scored by ``model`` (named ``which``); a
    review without text has no score."""
    text_col = pc.fill_null(pc.utf8_trim_whitespace(reviews["text"].combine_chunks()), "")
    langs = detect_languages(text_col, reviews["lang"].combine_chunks())
    texts: list[str] = text_col.to_pylist()
    lang_list = langs.to_pylist()
    has_text = pc.not_equal(text_col, "").to_numpy(zero_copy_only=False)
    scores = np.full(len(texts), np.nan)
    if has_text.any():
        idx = np.flatnonzero(has_text)
        scores[idx] = model.predict_proba([texts[i] for i in idx], [lang_list[i] for i in idx])
    mask = ~has_text
    return pa.table(
        {
            "review_id": reviews["review_id"],
            "user_id": reviews["user_id"],
            "item_id": reviews["item_id"],
            "lang": langs,
            "score": pa.array(scores, mask=mask, type=pa.float64()),
            "sentiment": pa.array(band(scores), mask=mask, type=pa.string()),
            "model": pa.array(np.full(len(texts), which), mask=mask, type=pa.string()),
        }
    )


def build_text(ws: Workspace, as_of: date, params: StageParams) -> StageResult:
    """The text stage: ``review_sentiment`` from ``reviews``, one row per review (on Spark:
    :func:`portrait.text.on_spark.build_text_on_spark`)."""
    if params.engine is Engine.SPARK:
        from portrait.text.on_spark import build_text_on_spark

        return build_text_on_spark(ws, as_of)
    tables = history.tables(ws.con)
    ctx = AsOf(as_of, ws.config.shop.timezone, engine=Engine.of(ws.con))
    r = tables["reviews"]
    r = r.filter(r.ts.isnull() | (r.ts < ctx.cutoff_literal()))
    arrow = r.select("review_id", "user_id", "item_id", "text", "lang", "rating", "ts").to_pyarrow()
    items = tables["items"].select("item_id", "title", "category").to_pyarrow()
    review_vectors, item_vectors = text_vectors(arrow, items)
    ws.replace_table("review_vectors", review_vectors)
    ws.replace_table("item_vectors", item_vectors)
    if arrow.num_rows == 0:
        empty = pa.table(
            {c: pa.array([], type=pa.float64() if c == "score" else pa.string()) for c in _COLUMNS}
        )
        ws.replace_table("review_sentiment", empty)
        for name in ("review_aspects", "user_text", "item_text"):
            ws.replace_table(name, OUTPUTS[name].arrow_schema().empty_table())
        return StageResult(rows=0, notes=[Note.of("no_reviews")])
    out, chosen, notes = score_reviews(arrow)
    ws.replace_table("review_sentiment", out)
    aspects = aspect_arrow(
        arrow.column("review_id").to_pylist(), arrow.column("text").to_pylist()
    ).cast(OUTPUTS["review_aspects"].arrow_schema())
    ws.replace_table("review_aspects", aspects)
    chosen["aspect_mentions"] = aspects.num_rows
    sentiment, mentions = ws.table("review_sentiment"), ws.table("review_aspects")
    ws.replace_table("user_text", user_text_table(sentiment, mentions))
    ws.replace_table("item_text", item_text_table(sentiment, mentions, tables["items"]))
    log.info("scored %d reviews with the %s sentiment model", out.num_rows, chosen["model"])
    return StageResult(rows=out.num_rows, notes=notes, chosen=chosen)


STAGE = Stage(
    name="text",
    label=Label(en="review text", zh="评价文本"),
    reads=("reviews", "items"),
    writes=(
        "review_sentiment",
        "review_aspects",
        "user_text",
        "item_text",
        "review_vectors",
        "item_vectors",
    ),
    config=(),
    run=build_text,
)


# -- facts ------------------------------------------------------------------------------------
class SentimentShare(Fact):
    """How many reviews, and the shares of them positive, neutral and negative."""

    reviews: int
    positive_share: float | None = None
    neutral_share: float | None = None
    negative_share: float | None = None


class LanguageSentiment(SentimentShare):
    lang: str


class ItemSentiment(SentimentShare):
    item_id: str
    #: the mean probability positive of its reviews
    mean_score: float | None = None
    #: the aspects most criticised and most praised in its reviews (codes of ``ASPECTS``)
    top_complaint: str | None = None
    top_praise: str | None = None


class AspectShare(Fact):
    """An aspect (logistics, price ...) and how the reviews that mention it judge it."""

    aspect: str
    label: Label
    mentions: int
    positive_share: float
    negative_share: float


class ReviewSummary(SentimentShare):
    """What customers say: sentiment overall, by language, and the most criticised items."""

    #: which model scored the reviews (a ``sentiment_model`` code); null with no reviews
    model: str | None = None
    by_language: list[LanguageSentiment] = []
    #: items with at least ``min_reviews`` scored reviews, the highest negative share first
    most_negative_items: list[ItemSentiment] = []
    min_reviews: int
    #: what the reviews talk about, the most mentioned aspect first
    aspects: list[AspectShare] = []

    def csv_rows(self) -> list[dict[str, Any]]:
        head = {"group": "all", "key": None, **SentimentShare.model_dump(self)}
        head = {k: head[k] for k in ("group", "key", *SentimentShare.model_fields)}
        rows = [head]
        rows += [{"group": "lang", "key": x.lang, **_shares(x)} for x in self.by_language]
        rows += [{"group": "item", "key": x.item_id, **_shares(x)}
                 for x in self.most_negative_items]  # fmt: skip
        rows += [{"group": "aspect", "key": a.aspect, "reviews": a.mentions,
                  "positive_share": a.positive_share, "negative_share": a.negative_share}
                 for a in self.aspects]  # fmt: skip
        return rows


def _shares(x: SentimentShare) -> dict[str, Any]:
    return {k: getattr(x, k) for k in SentimentShare.model_fields}


def _share_exprs(t: ir.Table) -> dict[str, ir.Value]:
    scored = t.sentiment.notnull()
    n = scored.sum().cast(dt.float64)
    return {
        "reviews": t.count(),
        **{
            f"{s}_share": (t.sentiment == s).sum().cast(dt.float64) / n.nullif(0)
            for s in ("positive", "neutral", "negative")
        },
    }


def review_summary(ws: Workspace, *, items: int = 10, min_reviews: int = 3) -> ReviewSummary:
    """Sentiment of the shop's reviews from the built ``review_sentiment`` table.

    Parameters
    ----------
    items : int
        How many of the most negatively reviewed items to list.
    min_reviews : int
        Least scored reviews an item needs to be listed.
    """
    ws.require("review_sentiment")
    t = ws.table("review_sentiment")
    overall = t.aggregate(**_share_exprs(t)).to_pyarrow().to_pylist()[0]
    langs = t.group_by("lang").aggregate(**_share_exprs(t)).order_by(ibis.desc("reviews"))
    scored = t.filter(t.item_id.notnull(), t.score.notnull())
    worst = (
        scored.group_by("item_id")
        .aggregate(mean_score=scored.score.mean(), **_share_exprs(scored))
        .filter(lambda x: x.reviews >= min_reviews)
        .order_by([ibis.desc("negative_share"), "mean_score", "item_id"])
        .limit(items)
    )
    if ws.has_table("item_text"):
        tops = ws.table("item_text").select("item_id", "top_complaint", "top_praise")
        worst = worst.left_join(tops, "item_id").drop("item_id_right")
        worst = worst.order_by([ibis.desc("negative_share"), "mean_score", "item_id"])
    models = t.filter(t.model.notnull()).model.value_counts().to_pyarrow().to_pylist()
    model = max(models, key=lambda m: m["model_count"])["model"] if models else None
    return ReviewSummary(
        **overall,
        model=model,
        by_language=[LanguageSentiment(**r) for r in langs.to_pyarrow().to_pylist()],
        most_negative_items=[
            ItemSentiment(**{**r, "item_id": str(r["item_id"])})
            for r in worst.to_pyarrow().to_pylist()
        ],
        min_reviews=min_reviews,
        aspects=_aspect_shares(ws),
    )


def _aspect_shares(ws: Workspace) -> list[AspectShare]:
    if not ws.has_table("review_aspects"):
        return []
    a = ws.table("review_aspects")
    rows = (
        a.group_by("aspect")
        .aggregate(
            mentions=a.count(),
            positive_share=(a.polarity == "positive").mean(),
            negative_share=(a.polarity == "negative").mean(),
        )
        .order_by([ibis.desc("mentions"), "aspect"])
        .to_pyarrow()
        .to_pylist()
    )
    return [AspectShare(label=ASPECTS.get(r["aspect"]) or Label(en=r["aspect"], zh=r["aspect"]),
                        **r) for r in rows]  # fmt: skip
