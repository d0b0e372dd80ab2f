"""The build runs stale stages in order, records them, and its commands read the results."""

from __future__ import annotations

import pytest

from portrait.datasets.demo import run_demo
from portrait.pipeline import build

from support import run_cli


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    result = run_demo(tmp_path_factory.mktemp("p") / "shop")
    yield result.workspace
    result.workspace.close()


def test_a_second_build_skips_what_is_current(demo_ws):
    again = build(demo_ws)
    assert again.ran == [] and again.skipped == [
        "features",
        "segments",
        "value",
        "tags",
        "recommend",
    ]
    forced = build(demo_ws, force=True)
    assert forced.ran == ["features", "segments", "value", "tags", "recommend"]
    earlier = build(demo_ws, "2011-06-01")  # another as-of date is stale
    assert earlier.ran == ["features", "segments", "value", "tags", "recommend"]
    assert str(earlier.as_of) == "2011-06-01"
    runs = demo_ws.table("runs").filter(lambda t: t.stage == "features").to_pandas()
    runs = runs.sort_values("started_at")
    assert (runs.status == "ok").all()
    # as of June 2011 fewer customers were known than at the end of the data
    assert runs.rows.tolist()[-3:] == [1500, 1500, runs.rows.iloc[-1]]
    assert 500 < runs.rows.iloc[-1] < 1500
    build(demo_ws)  # leave it as of the default date


def test_cli_build_profile_segments_tags(demo_ws):
    demo_ws.close()  # DuckDB lets one process write a database file at a time
    ws = str(demo_ws.path)
    built = run_cli("build", "-w", ws)
    assert built.returncode == 0 and "up to date" in built.stdout
    card = run_cli("profile", "12347", "-w", ws)
    assert card.returncode == 0, card.stderr
    for phrase in ("Customer 12347", "RFM segment", "Champions", "Lifecycle stage", "Tagged"):
        assert phrase in card.stdout, phrase
    segments = run_cli("segments", "-w", ws)
    assert segments.returncode == 0
    assert "重要价值客户" in segments.stdout and "silhouette" in segments.stdout
    tags = run_cli("tags", "-w", ws)
    assert tags.returncode == 0 and "high_value" in tags.stdout and "coverage" in tags.stdout
    assert "no categories" in tags.stdout  # why preferred_category is empty
    features = run_cli("tags", "--features", "-w", ws)
    assert "monetary_365d" in features.stdout and "近365天消费金额" in features.stdout


def test_wrong_ids_and_missing_builds_are_one_line_errors(demo_ws, tmp_path):
    demo_ws.close()
    wrong = run_cli("profile", "no-such-customer", "-w", str(demo_ws.path))
    assert wrong.returncode == 2 and "No customer 'no-such-customer'" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert run_cli("init", str(tmp_path / "empty")).returncode == 0
    for command in (["segments"], ["tags"], ["profile", "1"]):
        result = run_cli(*command, "-w", str(tmp_path / "empty"))
        assert result.returncode == 2 and "portrait build" in result.stderr, command
    nothing = run_cli("build", "-w", str(tmp_path / "empty"))
    assert nothing.returncode == 2 and "ingest some first" in nothing.stderr
    bad_date = run_cli("build", "--as-of", "yesterday", "-w", str(demo_ws.path))
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr
    demo_ws.count("features")  # this process holds the warehouse now
    busy = run_cli("build", "-w", str(demo_ws.path))
    assert busy.returncode == 2 and "open in another process" in busy.stderr
    demo_ws.close()
