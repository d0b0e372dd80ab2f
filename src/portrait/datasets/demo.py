"""The demo: a workspace built from real data that ships with the package.

A sample of UCI Online Retail (CC BY 4.0; see ``data/README.md``): every line of 1,500
customers over a year and a few thousand guest lines, ingested through the same preset a
user would use on the full file, built (features, segments, value models, tags,
recommendations) and summarised.
"""

from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from pathlib import Path

import ibis

from portrait.config import Config, ShopConfig
from portrait.errors import WorkspaceError
from portrait.facts import Fact
from portrait.ingest import IngestReport, ingest
from portrait.overview import Overview, shop_overview
from portrait.pipeline import BuildResult, build
from portrait.recommend import CustomerRecommendations, recommendations_for
from portrait.segments import SegmentReport, segment_report
from portrait.value import ValueSummary, value_summary
from portrait.workspace import init_workspace, is_workspace

SAMPLE = "online_retail_sample.csv.gz"
ATTRIBUTION = (
    "Data: UCI Online Retail (Chen, Sain & Guo 2012), CC BY 4.0, a sample of 1,500 customers."
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
        built = build(ws)
        example = None
        top = ws.table("value").order_by(ibis.desc("clv")).limit(1).to_pyarrow()
        if top.num_rows:
            example = recommendations_for(ws, top.column("user_id")[0].as_py(), n=3)
        return DemoResult(
            path=str(path), attribution=ATTRIBUTION, ingest=report, overview=shop_overview(ws),
            build=built, segments=segment_report(ws),
            value=value_summary(ws) if top.num_rows else None, example=example,
        )  # fmt: skip
    finally:
        ws.close()
