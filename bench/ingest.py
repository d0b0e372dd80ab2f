"""Ingest benchmark: Portrait's ingest of a generated events CSV against DuckDB's bare load.

Portrait's time includes reading, typing, validation, deduplication, rejects and
bookkeeping; the baseline is ``CREATE TABLE AS SELECT * FROM read_csv(...)`` on the same
file in the same run. Targets (issue 2): at most 3x the baseline, peak memory under 4 GB.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.machine import run_measured, save

WORK = Path(__file__).parent / "work"
MAX_RATIO, MAX_PEAK_GB = 3.0, 4.0


def run(*, users: int, events_per_user: float, seed: int = 0, repeat: int = 1) -> dict:
    data = WORK / f"events-u{users}-e{events_per_user:g}-s{seed}"
    csv = data / "events.csv"
    if not csv.exists():
        shutil.rmtree(data, ignore_errors=True)
        run_measured(["generate", str(data), str(users), str(events_per_user), str(seed)])
    rows = sum(1 for _ in csv.open("rb")) - 1
    timings: dict[str, list[tuple[float, float]]] = {"duckdb": [], "portrait": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            secs, peak, _ = run_measured(["duckdb_load", str(csv), f"{tmp}/base.duckdb"])
            timings["duckdb"].append((secs, peak))
            secs, peak, out = run_measured(["portrait_ingest", str(csv), f"{tmp}/ws"])
            timings["portrait"].append((secs, peak))
    best = {k: min(v) for k, v in timings.items()}
    peak = {k: max(p for _, p in v) for k, v in timings.items()}
    ratio = best["portrait"][0] / best["duckdb"][0]
    return {
        "params": {"users": users, "events_per_user": events_per_user, "seed": seed,
                   "rows": rows, "file_mb": round(csv.stat().st_size / 2**20, 1),
                   "repeat": repeat},
        "duckdb_read_csv": {"seconds": round(best["duckdb"][0], 2),
                            "peak_gb": round(peak["duckdb"], 2)},
        "portrait_ingest": {"seconds": round(best["portrait"][0], 2),
                            "peak_gb": round(peak["portrait"], 2), "counts": out.split()},
        "ratio": round(ratio, 2),
        "targets": {"max_ratio": MAX_RATIO, "max_peak_gb": MAX_PEAK_GB},
        "passed": ratio <= MAX_RATIO and peak["portrait"] < MAX_PEAK_GB,
    }  # fmt: skip


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench ingest", description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000, help="rows in the CSV")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    result = run(users=args.users, events_per_user=args.events / args.users, seed=args.seed,
                 repeat=args.repeat)  # fmt: skip
    path = save("ingest", result)
    base = result["duckdb_read_csv"]["seconds"]
    print(
        f"{result['params']['rows']:,} rows: DuckDB read_csv {base}s, "
        f"Portrait ingest {result['portrait_ingest']['seconds']}s "
        f"(ratio {result['ratio']}, peak {result['portrait_ingest']['peak_gb']} GB) "
        f"{'PASS' if result['passed'] else 'FAIL'} -> {path}"
    )
    return 0 if result["passed"] else 1
