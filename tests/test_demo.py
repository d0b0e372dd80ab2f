"""The demo builds a real workspace from the bundled sample and tells the owner about it."""

from __future__ import annotations

import time

import pytest

from portrait import open_workspace

from support import run_cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "shop"
    t0 = time.perf_counter()
    result = run_cli("demo", "--path", str(path))
    return path, result, time.perf_counter() - t0


def test_demo_runs_fast_and_prints_a_summary(demo):
    path, result, seconds = demo
    assert result.returncode == 0, result.stderr
    assert seconds < 60
    out = result.stdout
    assert "read 145,931 = accepted" in out
    for phrase in ("customers bought", "came back for a second order", "revenue", "GBP",
                   "best sellers", "busiest month", "CC BY 4.0", "Champions",
                   "of the revenue", "lifecycle"):  # fmt: skip
        assert phrase in out, phrase


def test_demo_sample_has_a_year_for_over_a_thousand_customers(demo):
    path, _, _ = demo
    with open_workspace(path) as ws:
        orders = ws.table("orders").filter(lambda t: t.user_id.notnull())
        span = orders.aggregate(first=orders.ts.min(), last=orders.ts.max()).execute()
        assert (span["last"][0] - span["first"][0]).days >= 365
        assert orders.user_id.nunique().execute() >= 1_000
        # the summary's numbers are the warehouse's numbers
        assert ws.count("users") == 1_500
        assert ws.table("runs").filter(lambda t: t.stage == "ingest").count().execute() == 1


def test_demo_replaces_its_own_workspace_but_nothing_else(demo, tmp_path):
    path, _, _ = demo
    again = run_cli("demo", "--path", str(path))
    assert again.returncode == 0
    with open_workspace(path) as ws:
        assert ws.count("ingests") == 1  # rebuilt, not ingested twice
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    refused = run_cli("demo", "--path", str(other))
    assert refused.returncode == 2 and "not a Portrait workspace" in refused.stderr
    assert (other / "notes.txt").read_text() == "keep me"


def test_status_shows_tables_and_runs(demo):
    path, _, _ = demo
    result = run_cli("status", "-w", str(path))
    assert result.returncode == 0
    assert "2010-12-01" in result.stdout and "2011-12-09" in result.stdout
    assert "online_retail_sample" in result.stdout and "ingest" in result.stdout
