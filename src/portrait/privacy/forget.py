"""Forgetting a customer: their rows, and every copy of them the workspace keeps, removed.

:func:`forget_customer` removes the person and every alias the ``identities`` table links to
them from:

- every warehouse table with a ``user_id`` column (canonical tables, derived ones such as
  ``features``, ``tags``, ``value``, ``recommendations``, and any a later stage adds);
- the rows that hang off their orders and reviews (``order_items``, ``review_aspects``,
  ``review_vectors``: every table keyed by an ``order_id`` or ``review_id`` of theirs);
- ``identities`` (as alias or as person) and ``rejects`` (source rows whose raw values name
  them);
- the LLM response cache (``artifacts/llm``): each cached file that mentions an id is deleted
  (a rerun asks the model again);
- audience exports recorded in ``audience_exports``: each file is rewritten without them;
- the API server's event store (``serving/events``): each file is rewritten without them.

All table changes happen in one transaction. The ``forgotten`` table records that it
happened: when, who asked, and how many rows and files changed; never whom. Aggregates (a
segment's size, a cluster's averages) are not personal data and change at the next build.
The API's read snapshots are the server's to replace (:func:`portrait.api.forget.forget`).
"""

from __future__ import annotations

import csv
import io
import os
import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from portrait import spark
from portrait.facts import Fact
from portrait.history import person_of
from portrait.serving import ServingPaths

if TYPE_CHECKING:
    from portrait.workspace import Workspace

__all__ = ["ForgetReport", "TableRemoval", "forget_customer", "ids_of", "mentions"]

_FORGOTTEN = """CREATE TABLE IF NOT EXISTS forgotten (
    forget_id VARCHAR, forgotten_at TIMESTAMP, requested_by VARCHAR, rows BIGINT,
    tables BIGINT, files BIGINT)"""


class TableRemoval(Fact):
    """Rows removed from one table."""

    table: str
    rows: int


class ForgetReport(Fact):
    """What forgetting one customer removed; it names no customer."""

    forget_id: str
    forgotten_at: datetime
    requested_by: str
    #: the ids forgotten: the person and the aliases linked to them
    ids: int
    tables: list[TableRemoval]
    rows: int
    #: cached model responses deleted
    cache_files: int
    #: audience export files rewritten
    export_files: int
    #: files of the API's event store rewritten
    event_files: int


def forget_customer(ws: Workspace, user_id: str, *, requested_by: str) -> ForgetReport:
    """Remove ``user_id`` (and their aliases) from every table, cache, export and event file.

    ``user_id`` may be an alias: the person it names is forgotten, with all their aliases.
    ``requested_by`` (an operator's name, an API key's id) is recorded in ``forgotten``.
    Forgetting an id the workspace does not know removes nothing and is recorded too.
    """
    from portrait.workspace import utcnow

    ids = ids_of(ws, user_id)
    raw = ws.con.con  # DELETE has no Ibis form; values go in as bound parameters
    removed: list[TableRemoval] = []
    raw.execute("BEGIN TRANSACTION")
    try:
        keys = {
            key: _column(raw, f'SELECT DISTINCT "{key}" FROM "{table}" WHERE '
                              'list_contains($ids, "user_id")', ids)
            for key, table in (("order_id", "orders"), ("review_id", "reviews"))
        }  # fmt: skip
        held_by_spark = set(spark.spark_outputs(ws))  # views over Spark's files: below
        for table in sorted(set(ws.con.list_tables()) - held_by_spark):
            columns = set(ws.table(table).columns)
            values: str | list[str]
            if table == "identities":
                where, values = 'list_contains($ids, "alias") OR list_contains($ids, "person")', ids
            elif table == "rejects":
                pattern = '"(' + "|".join(re.escape(i) for i in ids) + r')(\.0+)?"'
                where, values = 'regexp_matches("raw", $ids)', pattern
            elif "user_id" in columns:
                where, values = 'list_contains($ids, "user_id")', ids
            elif "order_id" in columns or "review_id" in columns:
                key = "order_id" if "order_id" in columns else "review_id"
                where, values = f'list_contains($ids, "{key}")', keys[key]
                if not values:
                    continue
            else:
                continue
            n = raw.execute(f'DELETE FROM "{table}" WHERE {where}', {"ids": values}).fetchone()
            if n and n[0]:
                removed.append(TableRemoval(table=table, rows=int(n[0])))
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    if held_by_spark:  # a workspace built on Spark: its outputs are files Spark rewrites
        spark_keys = {"user_id": ids, **keys}
        removed += [TableRemoval(table=t, rows=n)
                    for t, n in spark.forget_rows(ws, spark_keys).items()]  # fmt: skip
    exports = spark.discard_exports(ws)  # Spark's copies of the canonical tables
    cache = _forget_cache(ws.artifacts / "llm", ids)
    exports += _forget_exports(ws, ids)
    events = sum(_rewrite_parquet(path, ids, drop_empty=True)
                 for path in ServingPaths(ws.path).event_files())  # fmt: skip
    report = ForgetReport(
        forget_id=uuid.uuid4().hex[:12], forgotten_at=utcnow(), requested_by=requested_by,
        ids=len(ids), tables=removed, rows=sum(r.rows for r in removed), cache_files=cache,
        export_files=exports, event_files=events,
    )  # fmt: skip
    ws.con.raw_sql(_FORGOTTEN)
    ws.append("forgotten", [{
        "forget_id": report.forget_id, "forgotten_at": report.forgotten_at,
        "requested_by": requested_by, "rows": report.rows, "tables": len(removed),
        "files": cache + exports + events,
    }])  # fmt: skip
    return report


def ids_of(ws: Workspace, user_id: str) -> list[str]:
    """The ids forgetting ``user_id`` removes: the person it names and all their aliases."""
    person = person_of(ws.con, user_id)
    links = ws.table("identities")
    aliases = links.filter(links.person == person)["alias"].to_pyarrow().to_pylist()
    return sorted({user_id, person, *aliases})


def _column(raw: Any, sql: str, ids: list[str]) -> list[str]:
    return [row[0] for row in raw.execute(sql, {"ids": ids}).fetchall() if row[0] is not None]


def mentions(text: str, ids: Iterable[str]) -> bool:
    """Whether ``text`` names one of ``ids`` as a whole token (``12347``, not ``123470``)."""
    return any(re.search(rf"(?<![\w]){re.escape(i)}(?![\w])", text) for i in ids)


def _forget_cache(root: Path, ids: list[str]) -> int:
    """Delete the cached responses that mention an id; how many."""
    deleted = 0
    for path in sorted(root.rglob("*.json")) if root.is_dir() else []:
        if mentions(path.read_text(encoding="utf-8", errors="replace"), ids):
            path.unlink()
            deleted += 1
    return deleted


def _forget_exports(ws: Workspace, ids: list[str]) -> int:
    """Rewrite the recorded audience exports without the ids; how many files changed."""
    if not ws.has_table("audience_exports"):
        return 0
    t = ws.table("audience_exports")
    files = t.select("path", "format").distinct().to_pyarrow().to_pylist()
    changed = 0
    for f in files:
        path = Path(f["path"])
        if not path.is_file():
            continue
        if f["format"] == "parquet":
            changed += _rewrite_parquet(path, ids)
        else:
            changed += _rewrite_csv(path, ids)
    return changed


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably."""
    tmp = path.with_name(f".{path.name}.forget")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _rewrite_parquet(path: Path, ids: list[str], *, drop_empty: bool = False) -> int:
    """Rewrite ``path`` without the rows of ``ids`` (or delete it, left empty with
    ``drop_empty``); 1 if it changed."""
    table = pq.read_table(path)
    if "user_id" not in table.column_names:
        return 0
    user = table.column("user_id").cast(pa.string())
    hit = pc.fill_null(pc.is_in(user, value_set=pa.array(ids, pa.string())), False)
    if not pc.any(hit).as_py():
        return 0
    kept = table.filter(pc.invert(hit))
    if drop_empty and kept.num_rows == 0:
        path.unlink()
        return 1
    sink = io.BytesIO()
    pq.write_table(kept, sink)
    _replace(path, sink.getvalue())
    return 1


def _rewrite_csv(path: Path, ids: list[str]) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows or "user_id" not in rows[0]:
        return 0
    at = rows[0].index("user_id")
    kept = [rows[0]] + [r for r in rows[1:] if len(r) <= at or r[at] not in ids]
    if len(kept) == len(rows):
        return 0
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(kept)
    _replace(path, out.getvalue().encode("utf-8"))
    return 1
