"""Every listing command prints the same facts three ways: JSON that validates against its
facts model, CSV, and a table for people that fits an 80-column terminal and shows the same
numbers as the JSON."""

from __future__ import annotations

import csv
import io

import pytest

from portrait.ingest import Rejects
from portrait.pipeline import WorkspaceStatus
from portrait.profile import CustomerProfile
from portrait.recommend import CustomerRecommendations, WorkspaceEvaluation
from portrait.segments import SegmentReport
from portrait.tags import FeatureCatalogue, TagReport
from portrait.value import ValueReport

from support import run_cli

pytestmark = pytest.mark.slow

#: command -> its facts model
COMMANDS = {
    "status": WorkspaceStatus,
    "rejects": Rejects,
    "segments": SegmentReport,
    "tags": TagReport,
    "tags --features": FeatureCatalogue,
    "profile 14646": CustomerProfile,
    "recommend 14646 -n 5": CustomerRecommendations,
    "value": ValueReport,
    "recommend evaluate --models popularity,userknn": WorkspaceEvaluation,
}


#: commands that fit models: run once, as JSON; their table and CSV are rendered from it
#: by the same code the command uses
SLOW = {"value": "_show_value"}


def _render(facts, fmt: str, renderer: str) -> str:
    import contextlib
    import io

    from portrait import cli
    from portrait.terminal import Format, emit

    text = io.StringIO()
    with contextlib.redirect_stdout(text), pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "80")
        emit(facts, Format(fmt), getattr(cli, renderer))
    return text.getvalue()


@pytest.fixture(scope="module")
def outputs(demo_shop):
    """Each command's output in every format (the demo workspace is only read)."""
    out = {}
    for command, model in COMMANDS.items():
        args = [*command.split(), "-w", str(demo_shop.path)]
        for fmt in ("json", "table", "csv"):
            if command in SLOW and fmt != "json":
                facts = model.model_validate_json(out[command, "json"])
                out[command, fmt] = _render(facts, fmt, SLOW[command])
                continue
            result = run_cli(*args, "--format", fmt, columns=80)
            assert result.returncode == 0, (command, fmt, result.stderr)
            out[command, fmt] = result.stdout
    return out


@pytest.mark.parametrize("command", COMMANDS)
def test_json_is_the_facts_models_own(outputs, command):
    facts = COMMANDS[command].model_validate_json(outputs[command, "json"])
    assert facts.model_dump_json(indent=2) + "\n" == outputs[command, "json"]


@pytest.mark.parametrize("command", COMMANDS)
def test_csv_is_one_row_per_fact_row(outputs, command):
    facts = COMMANDS[command].model_validate_json(outputs[command, "json"])
    rows = list(csv.DictReader(io.StringIO(outputs[command, "csv"])))
    assert len(rows) == len(facts.csv_rows()) > 0


@pytest.mark.parametrize("command", COMMANDS)
def test_tables_fit_80_columns_and_cut_no_word(outputs, command):
    from rich.cells import cell_len

    text = outputs[command, "table"]
    assert all(cell_len(line) <= 80 for line in text.splitlines()), command
    assert "…" not in text


def _shows(table: str, *values: str) -> None:
    flat = " ".join(table.split())  # a number may sit at the end of a wrapped cell
    for value in values:
        assert value in flat, value


def test_the_table_shows_the_json_numbers(outputs):
    def facts(command):
        return COMMANDS[command].model_validate_json(outputs[command, "json"])

    status = facts("status")
    _shows(outputs["status", "table"], *[f"{t.rows:,}" for t in status.tables])
    segments = facts("segments")
    for s in segments.rfm_segment:
        words = s.label.en.split()  # a long name wraps inside its column
        _shows(outputs["segments", "table"], *words, f"{s.customers:,}", f"{s.share:.1%}")
    tags = facts("tags")
    _shows(outputs["tags", "table"], *[f"{t.coverage:.0%}" for t in tags.tags])
    profile = facts("profile 14646")
    frequency = next(f for f in profile.features if f.name == "frequency")
    assert profile.value is not None and profile.value.clv is not None
    _shows(outputs["profile 14646", "table"], f"{frequency.value:,}", f"{profile.value.clv:,.2f}")
    recs = facts("recommend 14646 -n 5")
    assert len(recs.items) == 5
    _shows(outputs["recommend 14646 -n 5", "table"], *[f"({r.item_id})" for r in recs.items])
    value = facts("value")
    _shows(outputs["value", "table"], f"{value.holdout.actual_total:,}",
           *[f"{m:.3f}" for m in value.holdout.mae.values()],
           *[f"{m['roc_auc']:.3f}" for m in value.churn.metrics.values()])  # fmt: skip
    evaluation = facts("recommend evaluate --models popularity,userknn")
    _shows(outputs["recommend evaluate --models popularity,userknn", "table"],
           *[f"{r.metrics['ndcg@20']:.4f}" for r in evaluation.results])  # fmt: skip
    rejects = facts("rejects")
    _shows(outputs["rejects", "table"], f"{rejects.total:,} rejected rows")
