"""Helpers for tests: where the shared datasets are, and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PORTRAIT_DATA", ROOT.parent / "shared" / "data"))


def data_file(relative: str) -> Path:
    path = DATA / relative
    if not path.exists():
        pytest.fail(f"shared dataset {path} is missing; tests read ../shared/data")
    return path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``portrait`` command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "portrait.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
