"""Who ran a benchmark: the machine, the versions and the date, for every result file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    import psutil

    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {
            p: version(p) for p in ("shop-portrait", "duckdb", "ibis-framework", "pyarrow")
        },
    }


def run_measured(args: list[str]) -> tuple[float, float, str]:
    """Run ``python -m bench.worker ARGS`` alone; return (seconds, peak RSS in GB, stdout).

    A subprocess per measurement, so each peak memory figure is that step's own
    (``wait4`` reports the child's maximum resident set size).
    """
    import time

    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.worker", *args],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"bench worker {args} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 2**20, out


def save(name: str, result: dict) -> Path:
    """Write ``bench/results/NAME-DATE.json`` with the machine and date added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    result = {"benchmark": name, "date": now.isoformat(timespec="seconds"),
              "machine": machine(), **result}  # fmt: skip
    path = RESULTS / f"{name}-{now:%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
