"""The text stage on Spark: models fitted on bounded samples, every review scored on the
executors.

- **Sentiment.** The shop's own model is trained, as on DuckDB
  (:func:`~portrait.text.stage.choose_sentiment_model`), from its rated reviews: the latest
  :data:`MAX_SHOP_REVIEWS` of them when there are more. The chosen model (the default or
  the shop's) is broadcast and scores every review in ``mapInArrow``
  (:func:`portrait.spark.map_arrow`).
- **Aspects** are a lexicon over each review's own text, so every batch of reviews finds
  its own on the executors (:func:`~portrait.text.aspects.aspect_arrow`).
- **Vectors.** The TF-IDF + SVD space is fitted on at most :data:`MAX_TEXT_FIT` review
  texts (those first by the MD5 of their id) and the item titles; reviews and titles are
  transformed on the executors, and an item's vector (its title's plus the mean of its
  reviews', as :func:`~portrait.text.vectors.text_vectors` makes it) sums the review
  vectors on Spark. The SVD's random start sees another row order than on DuckDB, so the
  vectors are the same space up to rotation, not the same numbers.
- ``user_text`` and ``item_text`` are the same Ibis queries, run by Spark.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from portrait import history, spark
from portrait.asof import AsOf
from portrait.engine import Engine
from portrait.facts import Note
from portrait.schema import OUTPUTS
from portrait.stages import StageResult
from portrait.text.aspects import aspect_arrow
from portrait.text.portraits import item_text_table, user_text_table
from portrait.text.sentiment import default_model
from portrait.text.stage import _COLUMNS, choose_sentiment_model, sentiment_rows
from portrait.text.vectors import TextSpace, _unit

if TYPE_CHECKING:
    from portrait.workspace import Workspace

log = logging.getLogger(__name__)

#: rated reviews the shop's own sentiment model learns from at most (the latest ones)
MAX_SHOP_REVIEWS = 200_000
#: review texts the vector space is fitted on at most (as :class:`TextSpace` samples)
MAX_TEXT_FIT = 200_000
_VECTOR = pa.list_(pa.float32())


def _ddl(name: str) -> str:
    kinds = {"id": "string", "string": "string", "float": "double", "integer": "long",
             "boolean": "boolean", "vector": "array<float>"}  # fmt: skip
    return ", ".join(f"{c.name} {kinds[c.kind]}" for c in OUTPUTS[name].columns)


def _vectors(m: np.ndarray, empty: np.ndarray) -> pa.Array:
    """Rows of a float32 matrix as a list column, null where ``empty``."""
    flat = pa.array(m.ravel(), pa.float32())
    offsets = pa.array(np.arange(0, m.size + 1, max(m.shape[1], 1), dtype=np.int32)[: len(m) + 1])
    return pa.ListArray.from_arrays(offsets, flat, mask=pa.array(empty, pa.bool_()))


def _title(batch: pa.Table) -> list[str]:
    return [" ".join(p for p in (t, c) if p) for t, c in
            zip(batch.column("title").to_pylist(), batch.column("category").to_pylist(),
                strict=True)]  # fmt: skip


def _fit_space(reviews: Any, items: Any) -> TextSpace:
    """The vector space, fitted on the driver from a bounded sample of the texts."""
    from pyspark.sql import functions as F

    texts = (
        reviews.filter(F.coalesce(F.col("text"), F.lit("")) != "")
        .orderBy(F.md5(F.col("review_id")))
        .limit(MAX_TEXT_FIT)
        .select("text")
        .toArrow()
        .column("text")
        .to_pylist()
    )
    titles = _title(items.limit(MAX_TEXT_FIT).toArrow())
    return TextSpace(max_fit=MAX_TEXT_FIT).fit(texts + titles)


def _review_vectors(space: Any) -> Any:
    def run(batch: pa.Table) -> pa.Table:
        texts = [t or "" for t in batch.column("text").to_pylist()]
        m = space.value.transform(texts)
        empty = np.array([not t for t in texts], dtype=bool)
        return pa.table({"review_id": batch.column("review_id"), "vector": _vectors(m, empty)})

    return run


def _item_vectors(space: Any) -> Any:
    """An item's vector: its title's plus the mean of its reviews' (``_sums`` over
    ``reviews``), made unit; null when that is zero."""

    def run(batch: pa.Table) -> pa.Table:
        fitted = space.value
        title_v = fitted.transform(_title(batch))
        counts = batch.column("reviews").to_numpy(zero_copy_only=False)
        sums = np.zeros_like(title_v)
        for row, entries in enumerate(batch.column("_sums").to_pylist()):
            for entry in entries or ():
                sums[row, entry["pos"]] = entry["s"]
        means = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
        iv = _unit(title_v + means)
        empty = ~(np.linalg.norm(iv, axis=1) > 0)
        return pa.table({"item_id": batch.column("item_id"), "reviews": counts,
                         "vector": _vectors(iv, empty)})  # fmt: skip

    return run


def _write_vectors(ws: Workspace, reviews: Any, items: Any) -> None:
    """``review_vectors`` and ``item_vectors`` on Spark."""
    from pyspark.sql import functions as F

    space = _fit_space(reviews, items)
    if space.svd_ is None:  # no text to fit a space on: null vectors, as on DuckDB
        ws.replace_table("review_vectors", reviews.select(
            "review_id", F.lit(None).cast("array<float>").alias("vector")))  # fmt: skip
        ws.replace_table("item_vectors", items.select(
            "item_id", F.lit(0).cast("long").alias("reviews"),
            F.lit(None).cast("array<float>").alias("vector")))  # fmt: skip
        return
    shared = spark.broadcast(ws, space)
    vectors = spark.map_arrow(reviews.select("review_id", "text"), _review_vectors(shared),
                              _ddl("review_vectors"))  # fmt: skip
    ws.replace_table("review_vectors", vectors)
    rv = spark.dataframe(ws.output("review_vectors", Engine.SPARK))
    known = reviews.select("review_id", "item_id").join(items.select("item_id"), "item_id")
    counts = known.groupBy("item_id").agg(F.count(F.lit(1)).alias("reviews"))
    parts = (
        known.join(rv.filter(F.col("vector").isNotNull()), "review_id")
        .select("item_id", F.posexplode("vector").alias("pos", "v"))
        .groupBy("item_id", "pos")
        .agg(F.sum("v").alias("s"))
        .groupBy("item_id")
        .agg(F.collect_list(F.struct("pos", "s")).alias("_sums"))
    )
    per_item = (
        items.join(counts, "item_id", "left").join(parts, "item_id", "left")
        .withColumn("reviews", F.coalesce(F.col("reviews"), F.lit(0)).cast("long"))
    )  # fmt: skip
    ws.replace_table("item_vectors", spark.map_arrow(per_item, _item_vectors(shared),
                                                      _ddl("item_vectors")))  # fmt: skip


def build_text_on_spark(ws: Workspace, as_of: date) -> StageResult:
    """:func:`portrait.text.stage.build_text` on Spark; its tables are written as Spark
    tables."""
    from pyspark.sql import functions as F

    con = ws.engine(Engine.SPARK)
    tables = history.tables(con)
    ctx = AsOf(as_of, ws.config.shop.timezone, engine=Engine.SPARK)
    r = tables["reviews"]
    r = r.filter(r.ts.isnull() | (r.ts < ctx.cutoff_literal()))
    expr = r.select("review_id", "user_id", "item_id", "text", "lang", "rating", "ts")
    items_expr = tables["items"].select("item_id", "title", "category")
    with spark.scratch(ws, expr, "reviews") as reviews:
        items = spark.dataframe(items_expr)
        n = reviews.count()
        if n == 0:
            empty = pa.table({c: pa.array([], type=pa.float64() if c == "score" else pa.string())
                              for c in _COLUMNS})  # fmt: skip
            ws.replace_table("review_sentiment", empty)
            for name in ("review_aspects", "user_text", "item_text"):
                ws.replace_table(name, OUTPUTS[name].arrow_schema().empty_table())
            _write_vectors(ws, reviews, items)
            return StageResult(rows=0, notes=[Note.of("no_reviews")])
        _write_vectors(ws, reviews, items)
        # the shop's own model learns from its rated reviews with text, the latest first
        text = F.trim(F.coalesce(F.col("text"), F.lit("")))
        rated = reviews.filter(F.col("rating").isin(1, 2, 4, 5) & (text != ""))
        sample = (
            rated.orderBy(F.col("ts").desc_nulls_last(), F.col("review_id").desc())
            .limit(MAX_SHOP_REVIEWS).toArrow()
            .sort_by([("ts", "ascending"), ("review_id", "ascending")])
        )  # fmt: skip
        if sample.num_rows:
            model, which, chosen, notes = choose_sentiment_model(sample)
        else:
            model, which, chosen, notes = default_model(), "default", {}, []
        shared = spark.broadcast(ws, model)
        scored = spark.map_arrow(reviews, lambda b: sentiment_rows(b, shared.value, which),
                                 _ddl("review_sentiment"))  # fmt: skip
        ws.replace_table("review_sentiment", scored)
        target = OUTPUTS["review_aspects"].arrow_schema()
        aspects = spark.map_arrow(
            reviews.select("review_id", "text"),
            lambda b: aspect_arrow(b.column("review_id").to_pylist(),
                                   b.column("text").to_pylist()).cast(target),
            _ddl("review_aspects"),
        )  # fmt: skip
        ws.replace_table("review_aspects", aspects)
    sentiment = ws.output("review_sentiment", Engine.SPARK)
    mentions = ws.output("review_aspects", Engine.SPARK)
    ws.replace_table("user_text", user_text_table(sentiment, mentions))
    ws.replace_table("item_text", item_text_table(sentiment, mentions, items_expr))
    chosen = chosen | {"model": which, "aspect_mentions": ws.count("review_aspects")}
    log.info("scored %d reviews with the %s sentiment model on Spark", n, which)
    return StageResult(rows=n, notes=notes, chosen=chosen)
