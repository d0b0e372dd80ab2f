"""Each stage run records rows in and out, seconds and peak memory; ``portrait status`` and
``portrait build`` show them."""

from __future__ import annotations

import os
import time

import pytest

from portrait.memory import PeakMemory, rss_mb
from portrait.pipeline import STAGES, WorkspaceStatus, build
from portrait.runs import recent_runs

from support import run_cli

psutil = pytest.importorskip("psutil")

#: two cheap stages: segments reads features, tags reads segments
CHEAP = ["segments", "tags"]


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def test_rss_agrees_with_psutil_and_the_peak_sees_a_short_allocation():
    assert abs(rss_mb() - _rss_mb()) < 20
    baseline = _rss_mb()
    with PeakMemory() as peak:
        block = bytearray(200 * 2**20)  # zero-filled: every page is touched
        time.sleep(0.2)
        del block
    assert peak.peak_mb > baseline + 150
    assert rss_mb() < peak.peak_mb


def test_every_stage_run_records_rows_in_and_out_seconds_and_peak(demo_ws):
    baseline = _rss_mb()
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    seen = []
    result = build(demo_ws, force=True, stages=CHEAP, on_run=seen.append)
    assert result.ran == CHEAP and [r.stage for r in result.runs] == CHEAP
    assert seen == result.runs
    assert [r.run_id for r in recent_runs(demo_ws, limit=2)] == [
        r.run_id for r in reversed(result.runs)
    ]
    for run in result.runs:
        stage = STAGES[run.stage]
        assert run.rows_in == {name: demo_ws.count(name) for name in stage.reads}
        assert run.rows_out == {name: demo_ws.count(name) for name in stage.writes}
        assert run.rows_written == sum(run.rows_out.values())
        assert run.rows_out[stage.writes[0]] == run.rows == result.rows[run.stage]
        assert run.seconds > 0
        assert run.peak_memory_mb is not None
        assert 0.9 * baseline < run.peak_memory_mb < machine
        # measured values are typed fields, not left in the params
        assert not {"rows_in", "rows_out", "peak_memory_mb"} & set(run.params)


def test_status_and_build_show_them(demo_ws):
    build(demo_ws, force=True, stages=CHEAP)
    # without its table the last stage is stale: `portrait build` below reruns only it
    demo_ws.con.raw_sql('DROP TABLE "audience_sizes"')
    path = str(demo_ws.path)
    demo_ws.close()
    as_json = run_cli("status", "-f", "json", "--runs", "2", "-w", path)
    assert as_json.returncode == 0, as_json.stderr
    runs = WorkspaceStatus.model_validate_json(as_json.stdout).build.runs
    assert [r.stage for r in runs] == ["tags", "segments"]
    assert all(r.rows_in and r.rows_out and r.peak_memory_mb for r in runs)
    shown = run_cli("status", "--runs", "2", "-w", path, columns=80)
    assert shown.returncode == 0, shown.stderr
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    for r in runs:
        line = next(x for x in shown.stdout.splitlines() if f" {r.stage} " in x and " ok " in x)
        assert f" {r.rows_read:,}  " in line and f" {r.rows_written:,}  " in line
        assert f"{r.peak_memory_mb:,.0f}" in line and f"{r.seconds:.1f}" in line
    built = run_cli("build", "--quiet", "-w", path)
    assert built.returncode == 0, built.stderr
    line = next(x for x in built.stdout.splitlines() if x.startswith("  audiences: "))
    assert " -> " in line and " rows, " in line and line.endswith(" MB")
