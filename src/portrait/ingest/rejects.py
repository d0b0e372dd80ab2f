"""The rejected rows read back: each with its file, line, raw values and reason."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis

from portrait.facts import Fact

if TYPE_CHECKING:
    from portrait.workspace import Workspace


class RejectedRow(Fact):
    source: str
    table: str
    row_number: int | None
    raw: str | None
    reason: str
    rejected_at: datetime | None


class ReasonCount(Fact):
    """How many rows were rejected for one kind of reason (quoted values left out)."""

    reason: str
    rows: int


class Rejects(Fact):
    """All rejected rows in numbers, and the first of them."""

    total: int
    reasons: list[ReasonCount]
    #: the first rejected rows, oldest ingest first, in file order
    first: list[RejectedRow]

    def csv_rows(self) -> list[dict[str, Any]]:
        return [r.model_dump(mode="json") for r in self.first]


def rejected_rows(ws: Workspace, *, limit: int = 20, reasons: int = 10) -> Rejects:
    """The first ``limit`` rejected rows and the ``reasons`` most common kinds of reason."""
    t = ws.table("rejects")
    rows = t.order_by(["rejected_at", "row_number"]).limit(limit).to_pyarrow().to_pylist()
    kinds = t.group_by(reason=t.reason.re_replace(r"'[^']*'", "'…'")).aggregate(rows=t.count())
    top = kinds.order_by([ibis.desc("rows"), "reason"]).limit(reasons).to_pyarrow().to_pylist()
    return Rejects(
        total=ws.count("rejects"),
        reasons=[ReasonCount(**k) for k in top],
        first=[
            RejectedRow(source=Path(r["source"]).name, table=r["table_name"],
                        row_number=r["row_number"], raw=r["raw"], reason=r["reason"],
                        rejected_at=r["rejected_at"])
            for r in rows
        ],
    )  # fmt: skip
