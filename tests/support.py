"""Helpers for tests: where the shared datasets are, and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PORTRAIT_DATA", ROOT.parent / "shared" / "data"))


def data_file(relative: str) -> Path:
    path = DATA / relative
    if not path.exists():
        pytest.fail(f"shared dataset {path} is missing; tests read ../shared/data")
    return path


def copy_workspace(ws, folder: Path):
    """A copy of a (shared, session-wide) workspace that a test may change."""
    import shutil

    from portrait import open_workspace

    ws.close()  # the warehouse file is complete on disk once closed; it reopens on next use
    target = Path(folder) / ws.path.name
    shutil.copytree(ws.path, target)
    return open_workspace(target)


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, columns: int | None = None) -> CliResult:
    """Run the ``portrait`` command line in this process (as ``main`` would, exit code and
    all), capturing what it prints; ``columns`` sets the terminal width."""
    import contextlib
    import io

    from portrait.cli import run
    from portrait.terminal import PIPE_WIDTH

    out, err = io.StringIO(), io.StringIO()
    # a terminal's COLUMNS must not wrap what a test reads (as a pipe's output is not)
    env = {"COLUMNS": str(columns or PIPE_WIDTH)}
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        contextlib.chdir(cwd or Path.cwd()),
        pytest.MonkeyPatch.context() as mp,
    ):
        for key, value in env.items():
            mp.setenv(key, value)
        code = run(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``portrait`` command in a subprocess (for the few end-to-end checks)."""
    return subprocess.run(
        [sys.executable, "-m", "portrait.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
