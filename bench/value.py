"""Value benchmark: BG/NBD and Gamma-Gamma fitted and scored on a million customers.

A generated shop whose customers buy exactly as BG/NBD says (:data:`TRUTH`, alpha in days;
``portrait generate --bgnbd``), 1,000,000 customers over two years, is ingested once (cached
in ``bench/work``). Then, each step in its own process:

- **baseline**: one hand-written DuckDB statement computing every buyer's RFM summary;
- **Portrait summary**: :func:`portrait.value.rfm_summary` (Ibis over DuckDB), the same;
- **Portrait value**: BG/NBD and Gamma-Gamma fitted by maximum likelihood, then every
  customer scored: P(alive), expected purchases in 30/90/365 days, P(purchase in 90 days),
  expected spend and 12-month CLV.

Target (issue 4): fitting and scoring under 60 seconds, peak memory recorded. The fitted
parameters are recorded beside the truth.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.machine import run_measured, save

WORK = Path(__file__).parent / "work"
TRUTH = {"r": 0.5, "alpha": 40.0, "a": 0.8, "b": 2.5}
MAX_SECONDS = 60.0


def prepare(users: int, seed: int) -> Path:
    tag = f"bgnbd-{'-'.join(f'{v:g}' for v in TRUTH.values())}-u{users}-s{seed}"
    ws = WORK / f"ws-{tag}"
    if not (ws / "ingested").exists():
        shop = WORK / f"shop-{tag}"
        if not (shop / "orders.parquet").exists():
            run_measured(["generate_bgnbd", str(shop), str(users), str(seed)])
        run_measured(["ingest_orders", str(shop), str(ws)])
        (ws / "ingested").write_text(time.strftime("%Y-%m-%d %H:%M"), encoding="utf-8")
    return ws


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench value", description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    ws = prepare(args.users, args.seed)
    summary = ws / "summary.parquet"
    base_s, base_gb, base_out = run_measured(["duckdb_rfm", str(ws)])
    sum_s, sum_gb, sum_out = run_measured(["portrait_rfm", str(ws), str(summary)])
    assert base_out.split() == sum_out.split(), (base_out, sum_out)
    val_s, val_gb, val_out = run_measured(["portrait_value", str(summary)])
    inner = json.loads(val_out)
    fitted = inner.pop("bgnbd")
    result = {
        "params": {"users": args.users, "seed": args.seed, "truth": TRUTH, "days": 730},
        "duckdb_rfm_sql": {"seconds": round(base_s, 2), "peak_gb": round(base_gb, 2)},
        "portrait_rfm_summary": {
            "seconds": round(sum_s, 2),
            "peak_gb": round(sum_gb, 2),
            "ratio_to_sql": round(sum_s / base_s, 2),
        },  # fmt: skip
        "portrait_fit_and_score": {
            "seconds": round(val_s, 2),
            "peak_gb": round(val_gb, 2),
            **inner,
            "bgnbd": {k: round(v, 4) for k, v in fitted.items()},
            "bgnbd_error": {k: round(fitted[k] / v - 1, 4) for k, v in TRUTH.items()},
        },  # fmt: skip
        "targets": {"max_seconds": MAX_SECONDS},
        "passed": val_s < MAX_SECONDS,
    }
    path = save("value", result)
    print(json.dumps(result, indent=2))
    print(f"{'PASS' if result['passed'] else 'FAIL'} -> {path}")
    return 0 if result["passed"] else 1
