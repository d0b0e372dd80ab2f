"""Exporting an audience's members (CSV or Parquet) with the PII policy applied.

An export holds ``user_id`` and only the columns the caller names from the audience's base
(features, tags, scores, profile: what a definition may use). Personal data never leaves:
the ``users`` table's PII columns (phone, e-mail, name, address; stored only pseudonymised)
are refused by name, and the base does not carry them. Every export is recorded in the
``audience_exports`` table (audience, path, rows, columns, when), so that forgetting a
customer can find the files that hold them.
"""

from __future__ import annotations

import difflib
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from portrait.audiences.definition import built_as_of, compile_definition
from portrait.audiences.store import definition_of
from portrait.errors import ConfigError
from portrait.facts import Fact
from portrait.schema import USERS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from portrait.workspace import Workspace

__all__ = ["PII_COLUMNS", "ExportList", "ExportReport", "export_members", "list_exports"]

ExportFormat = Literal["csv", "parquet"]
#: the columns no export carries, whatever is asked
PII_COLUMNS = frozenset(c.name for c in USERS.columns if c.pii)


class ExportReport(Fact):
    """One export: which audience, where, how many rows, which columns, as of when."""

    name: str
    path: str
    format: ExportFormat
    rows: int
    #: ``user_id`` first, then the columns asked for
    columns: list[str]
    as_of: date
    exported_at: datetime


class ExportList(Fact):
    exports: list[ExportReport]

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{**e.model_dump(mode="json"), "columns": ",".join(e.columns)}
                for e in self.exports]  # fmt: skip


def export_members(
    ws: Workspace,
    name: str,
    path: str | Path,
    *,
    format: ExportFormat = "csv",
    columns: Iterable[str] = (),
) -> ExportReport:
    """Write the members of the saved audience ``name`` to ``path``, one row each.

    Parameters
    ----------
    ws
        A built workspace.
    name
        A saved audience.
    path
        The file to write (replaced if it exists); its folder must exist.
    format
        "csv" (UTF-8, a header row) or "parquet".
    columns
        Columns of the audience's base to add after ``user_id`` (``portrait tags --features``
        lists the features; tags, ``clv``, ``rfm_segment``, ``city`` ... too). PII is refused.

    Raises :class:`NotFoundError` for an unknown audience and :class:`ConfigError` for a PII
    column, an unknown column, an unknown format or a missing folder.
    """
    if format not in ("csv", "parquet"):
        raise ConfigError(f"{format!r} is not an export format; use 'csv' or 'parquet'.")
    target = Path(path).expanduser().resolve()
    if not target.parent.is_dir():
        raise ConfigError(
            f"The folder {target.parent} does not exist; create it or choose another path."
        )
    compiled = compile_definition(ws, definition_of(ws, name), name=name)
    wanted = _columns(list(columns), compiled.base.columns)
    rows = (
        compiled.base.filter(compiled.condition.fill_null(False))
        .select("user_id", *wanted)
        .order_by("user_id")
        .to_pyarrow()
    )
    partial = target.with_name(target.name + ".partial")
    if format == "csv":
        pa_csv.write_csv(rows, partial)
    else:
        pq.write_table(rows, partial)
    partial.replace(target)
    report = ExportReport(
        name=name, path=str(target), format=format, rows=rows.num_rows,
        columns=["user_id", *wanted], as_of=built_as_of(ws), exported_at=datetime.now(),
    )  # fmt: skip
    ws.append("audience_exports", [{**report.model_dump(exclude={"columns"}),
                                    "columns": ",".join(report.columns)}])  # fmt: skip
    return report


def _columns(asked: list[str], available: list[str]) -> list[str]:
    """The asked columns, checked: no PII, no unknown names, no repeats, not ``user_id``."""
    choices = [c for c in available if c != "user_id" and not c.startswith("__")]
    out: list[str] = []
    for column in asked:
        if column in PII_COLUMNS:
            raise ConfigError(
                f"{column!r} is personal data (PII) and is never exported; export user_id "
                "and look the person up where the data is kept."
            )
        if column == "user_id" or column in out:
            continue
        if column not in choices:
            close = difflib.get_close_matches(column, choices, n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else "`portrait tags --features` and `portrait tags` list the names."
            )
            raise ConfigError(f"An audience has no column {column!r}; {hint}")
        out.append(column)
    return out


def list_exports(ws: Workspace, name: str | None = None) -> ExportList:
    """Every export recorded (of one audience, with ``name``), oldest first."""
    if not ws.has_table("audience_exports"):
        return ExportList(exports=[])
    t = ws.table("audience_exports")
    if name is not None:
        t = t.filter(t.name == name)
    rows = t.order_by("exported_at").to_pyarrow().to_pylist()
    return ExportList(
        exports=[ExportReport(**{**r, "columns": str(r["columns"]).split(",")}) for r in rows]
    )
