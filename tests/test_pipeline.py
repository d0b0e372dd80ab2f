"""The build runs stale stages in order, records them, and its commands read the results."""

from __future__ import annotations

from portrait.errors import (
    ConfigError,
    DataError,
    NotBuiltError,
    NotFoundError,
    WorkspaceBusyError,
)
from portrait.pipeline import build, build_state

from support import run_cli, run_cli_process


def test_a_second_build_skips_what_is_current(demo_ws):
    again = build(demo_ws)
    every = ["features", "segments", "value", "text", "tags", "recommend", "personas", "audiences"]
    assert again.ran == [] and again.skipped == every
    forced = build(demo_ws, force=True)
    assert forced.ran == every
    earlier = build(demo_ws, "2011-06-01")  # another as-of date is stale
    assert earlier.ran == every
    assert str(earlier.as_of) == "2011-06-01"
    runs = demo_ws.table("runs").filter(lambda t: t.stage == "features").to_pandas()
    runs = runs.sort_values("started_at")
    assert (runs.status == "ok").all()
    # as of June 2011 fewer customers were known than at the end of the data
    assert runs.rows.tolist()[-3:] == [1500, 1500, runs.rows.iloc[-1]]
    assert 500 < runs.rows.iloc[-1] < 1500
    build(demo_ws)  # leave it as of the default date


def test_cli_build_profile_segments_tags(demo_shop):
    ws = str(demo_shop.path)
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
    assert "no categories" in tags.stdout and "商品没有类目" in tags.stdout  # why it is empty
    features = run_cli("tags", "--features", "-w", ws)
    assert "monetary_365d" in features.stdout and "近365天消费金额" in features.stdout


def test_wrong_ids_and_missing_builds_are_one_line_errors(demo_ws, tmp_path):
    demo_ws.close()
    wrong = run_cli("profile", "no-such-customer", "-w", str(demo_ws.path))
    assert wrong.returncode == NotFoundError.exit_code
    assert "No customer 'no-such-customer'" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert run_cli("init", str(tmp_path / "empty")).returncode == 0
    for command in (["segments"], ["tags"], ["profile", "1"], ["recommend", "1"]):
        result = run_cli(*command, "-w", str(tmp_path / "empty"))
        assert result.returncode == NotBuiltError.exit_code, command
        assert "portrait build" in result.stderr, command
    nothing = run_cli("build", "-w", str(tmp_path / "empty"))
    assert nothing.returncode == DataError.exit_code and "ingest some first" in nothing.stderr
    bad_date = run_cli("build", "--as-of", "yesterday", "-w", str(demo_ws.path))
    assert bad_date.returncode == ConfigError.exit_code and "YYYY-MM-DD" in bad_date.stderr
    demo_ws.count("features")  # this process holds the warehouse now; another cannot write
    busy = run_cli_process("build", "-w", str(demo_ws.path))
    assert busy.returncode == WorkspaceBusyError.exit_code
    assert "open in another process" in busy.stderr
    demo_ws.close()


def test_a_new_rule_tag_reruns_only_the_tags_stage(demo_ws):
    before = demo_ws.count("runs")
    config = demo_ws.path / "portrait.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[tags.rules]\nbig_basket = "basket_size >= 100"\n',
        encoding="utf-8",
    )
    demo_ws.close()
    from portrait import open_workspace

    with open_workspace(demo_ws.path) as ws:
        result = build(ws)
        assert result.ran == ["tags", "audiences"]
        assert result.skipped == [
            "features", "segments", "value", "text", "recommend", "personas"
        ]  # fmt: skip
        runs = ws.table("runs").to_pandas().sort_values("started_at")
        assert runs.stage.tolist()[before:] == ["tags", "audiences"]
        assert "big_basket" in ws.table("tags").columns
        assert {s.state for s in build_state(ws).stages} == {"current"}
        # a clustering setting reruns segments and what reads them, not features or value
        text = config.read_text(encoding="utf-8").replace("max_clusters = 8", "max_clusters = 4")
        config.write_text(text, encoding="utf-8")
    with open_workspace(demo_ws.path) as ws:
        assert {s.stage for s in build_state(ws).stages if s.state == "stale"} == {
            "segments",
            "tags",
            "recommend",
            "personas",
            "audiences",
        }
        assert build(ws).ran == ["segments", "tags", "recommend", "personas", "audiences"]


def test_every_stage_writes_the_tables_it_declares(demo_shop):
    from portrait import open_workspace
    from portrait.pipeline import STAGES
    from portrait.schema import OUTPUTS, TABLES

    with open_workspace(demo_shop.path) as ws:
        written = set()
        for stage in STAGES.values():
            assert set(stage.reads) <= set(TABLES) | set(OUTPUTS), stage.name
            for name in stage.writes:
                declared = OUTPUTS[name]
                columns = list(ws.table(name).columns)
                if declared.wide:
                    assert columns[: len(declared.names)] == declared.names, name
                    assert len(columns) > len(declared.names), name
                else:
                    assert columns == declared.names, name
                written.add(name)
        assert written == set(OUTPUTS)
