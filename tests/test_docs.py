"""The docs say what the code does: generated parts match, every command is documented."""

from __future__ import annotations

from portrait.cli import app
from portrait.schema import render_markdown

from support import ROOT, run_cli


def _commands() -> list[str]:
    import typer.main

    return sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_data_model_doc_is_generated_from_the_schema():
    doc = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert doc.strip() == render_markdown().strip(), "regenerate docs/data-model.md"


def test_every_command_has_help_and_a_documented_example():
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    commands = _commands()
    assert {"init", "ingest", "status", "demo", "generate"} <= set(commands)
    for name in commands:
        assert f"## `portrait {name}`" in doc, f"docs/cli.md lacks portrait {name}"
        section = doc.split(f"## `portrait {name}`", 1)[1].split("\n## ", 1)[0]
        assert f"portrait {name}" in section.split("```sh", 1)[1], f"no example for {name}"
        result = run_cli(name, "--help")
        assert result.returncode == 0 and "Example" in result.stdout, name


def test_readme_quick_start_has_exactly_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [ln.split("#")[0].strip() for ln in quick.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_features_doc_is_generated_from_the_registry():
    from portrait.features import render_markdown as render_features

    doc = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert doc == render_features(), "regenerate docs/features.md"
