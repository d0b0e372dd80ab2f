"""One measured step, run in its own process by ``bench.machine.run_measured``."""

from __future__ import annotations

import sys
import time


def duckdb_load(csv: str, db: str) -> None:
    """The baseline: DuckDB's own read_csv into a table, types auto-detected."""
    import duckdb

    con = duckdb.connect(db)
    con.execute("CREATE TABLE events AS SELECT * FROM read_csv(?)", [csv])
    n = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    print(n)


def portrait_ingest(csv: str, workspace: str) -> None:
    """Portrait: map, type, validate, deduplicate and record, into a fresh workspace."""
    from portrait import init_workspace
    from portrait.ingest import ingest

    ws = init_workspace(workspace)
    report = ingest(ws, csv, table="events")
    ws.close()
    assert report.balanced
    print(report.read, report.accepted, report.duplicates, report.rejected)


def generate(out: str, users: str, events_per_user: str, seed: str) -> None:
    from portrait.datasets.generator import generate_shop

    generate_shop(out, users=int(users), events_per_user=float(events_per_user),
                  seed=int(seed), fmt="csv", tables=["events"])  # fmt: skip


if __name__ == "__main__":
    t0 = time.perf_counter()
    step, *args = sys.argv[1:]
    {"duckdb_load": duckdb_load, "portrait_ingest": portrait_ingest, "generate": generate}[step](
        *args
    )
    print(f"# {step} {time.perf_counter() - t0:.2f}s", file=sys.stderr)
