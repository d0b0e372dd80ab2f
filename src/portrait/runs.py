"""The ``runs`` table read back: which stage ran when, on what, and how it went.

:meth:`portrait.workspace.Workspace.run` writes one row per stage run; these functions read
them for the pipeline (is a stage current?), ``portrait status`` and every capability that
says as of when its numbers are.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import ibis

from portrait.facts import Fact

if TYPE_CHECKING:
    from portrait.workspace import Workspace


class RunRecord(Fact):
    """One row of ``runs``: a stage run with its outcome."""

    run_id: str
    stage: str
    as_of: datetime | None
    started_at: datetime
    seconds: float
    status: Literal["ok", "failed"]
    rows: int | None
    message: str
    params: dict[str, Any]
    #: rows of each table the stage read, counted as it started (build stages only)
    rows_in: dict[str, int] = {}
    #: rows of each table the stage wrote, counted as it finished (build stages only)
    rows_out: dict[str, int] = {}
    #: the process's peak resident memory while it ran, MB; ``None`` for older runs
    peak_memory_mb: float | None = None

    @property
    def rows_read(self) -> int | None:
        """The rows of every table the run read, together; ``None`` if not recorded."""
        return sum(self.rows_in.values()) if self.rows_in else None

    @property
    def rows_written(self) -> int | None:
        """The rows of every table the run wrote, together (else its main output's rows)."""
        return sum(self.rows_out.values()) if self.rows_out else self.rows


#: what a run measured, kept in its params JSON and read back as typed fields
MEASURED = ("rows_in", "rows_out", "peak_memory_mb")


def _record(row: dict[str, Any]) -> RunRecord:
    params = json.loads(row["params"] or "{}")
    measured = {k: params.pop(k) for k in MEASURED if k in params}
    return RunRecord(**{**row, "params": params, **measured})


def last_run(ws: Workspace, stage: str) -> RunRecord | None:
    """The last successful run of ``stage``; ``None`` if it never ran."""
    runs = ws.table("runs")
    rows = (
        runs.filter((runs.stage == stage) & (runs.status == "ok"))
        .order_by(ibis.desc("started_at"))
        .limit(1)
        .to_pyarrow()
        .to_pylist()
    )
    return _record(rows[0]) if rows else None


def recent_runs(ws: Workspace, *, limit: int = 10) -> list[RunRecord]:
    """The latest runs, newest first, failed ones included."""
    runs = ws.table("runs").order_by(ibis.desc("started_at")).limit(limit)
    return [_record(r) for r in runs.to_pyarrow().to_pylist()]
