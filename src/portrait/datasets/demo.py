"""The demo: a workspace built from real data that ships with the package.

A sample of UCI Online Retail (CC BY 4.0; see ``data/README.md``): every line of 1,500
customers over a year and a few thousand guest lines, ingested through the same preset a
user would use on the full file, built (features, segments, value models, tags,
recommendations) and summarised.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

import ibis

from portrait.config import Config, ShopConfig
from portrait.errors import WorkspaceError
from portrait.ingest import IngestReport, ingest
from portrait.overview import Overview, shop_overview
from portrait.pipeline import BuildResult, build
from portrait.segments import segment_table
from portrait.workspace import Workspace, init_workspace, is_workspace

SAMPLE = "online_retail_sample.csv.gz"
ATTRIBUTION = (
    "Data: UCI Online Retail (Chen, Sain & Guo 2012), CC BY 4.0, a sample of 1,500 customers."
)


@dataclass
class DemoResult:
    workspace: Workspace
    ingest: IngestReport
    overview: Overview
    build: BuildResult
    #: segment column -> rows of segment_table
    segments: dict[str, list[dict]]
    #: value_summary: CLV by tier and the value at risk
    value: dict
    #: the most valuable customer and their first three recommendations
    example: tuple[str, list[dict]] | None = None


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
    built = build(ws)
    from portrait.recommend.serve import recommendations_for
    from portrait.value import value_summary

    example = None
    top = ws.table("value").order_by(ibis.desc("clv")).limit(1).to_pyarrow()
    if top.num_rows:
        uid = top.column("user_id")[0].as_py()
        example = (uid, recommendations_for(ws, uid, n=3))
    return DemoResult(
        ws, report, shop_overview(ws), built, segment_table(ws), value_summary(ws), example
    )
