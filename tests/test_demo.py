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
                   "of the revenue", "lifecycle", "which you bought"):  # fmt: skip
        assert phrase in out, phrase
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
        assert ws.table("runs").filter(lambda t: t.stage == "ingest").count().execute() == 1
        assert (
            demo_shop.overview.customers
            == orders.filter(lambda t: t.status == "completed").user_id.nunique().execute()
        )


def test_demo_replaces_its_own_workspace_but_nothing_else(demo_shop, tmp_path):
    path = tmp_path / "demo"
    shutil.copytree(demo_shop.path, path)
    again = run_cli_process("demo", "--path", str(path))  # the real command, end to end
    assert again.returncode == 0, again.stderr
    assert "The shop at a glance" in again.stdout
    with open_workspace(path) as ws:
        assert ws.count("ingests") == 1  # rebuilt, not ingested twice
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
