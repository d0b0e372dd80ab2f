"""``ingest``: one source file into the warehouse, with nothing lost.

The source is scanned once into a typed staging table that carries, for each row, its
position, its reasons for rejection (if any) and, for rejected rows only, its raw values.
From there: rejected rows go to ``rejects``; accepted rows are deduplicated on the table's
natural key, first within the file (the first occurrence wins) and then against what the
warehouse already holds; derived tables (orders from order lines, items from events) get
their new keys. All writes happen in one transaction, and the counts satisfy
``read = accepted + duplicates + rejected`` by construction, which the report re-checks.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
from pydantic import ConfigDict

from portrait import schema
from portrait.errors import SchemaError, SourceError
from portrait.facts import Fact
from portrait.hashing import file_sha256, md5
from portrait.ingest import parse, validate
from portrait.ingest.mapping import Spec, load_mapping, suggest_columns
from portrait.ingest.presets import get_preset
from portrait.ingest.readers import (
    RawSource,
    number_rows,
    parse_rejects,
    read_source,
    with_row_ids,
)
from portrait.workspace import Workspace, utcnow

log = logging.getLogger(__name__)

#: keys that are derived from the row's content when the source has no such column
_CONTENT_KEYS = {"events": "event_id", "reviews": "review_id"}


class IngestReport(Fact):
    """What an ingest did (or, with ``dry_run``, would do).

    Filled in as the ingest goes, so unlike other facts it is not frozen.
    """

    model_config = ConfigDict(frozen=False, extra="forbid")

    source: str
    table: str
    spec: str
    format: str
    encoding: str | None
    delimiter: str | None
    #: canonical column -> where it comes from
    mapping: dict[str, str]
    #: source columns nothing reads
    ignored: list[str]
    ts_formats: dict[str, str]
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    #: kinds of rejection, most common first: (an example reason, rows of that kind)
    reasons: list[tuple[str, int]] = []
    #: new rows written to derived tables
    derived: dict[str, int] = {}
    dry_run: bool = False
    #: when this exact file was ingested into this table before
    seen_before: str | None = None
    notes: list[str] = []
    sample: list[dict[str, Any]] = []
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.read == self.accepted + self.duplicates + self.rejected


def resolve_spec(
    *,
    table: str | None = None,
    preset: str | None = None,
    mapping: str | Path | None = None,
) -> Spec:
    """The spec for an ingest: a preset, a mapping file, or header suggestions for ``table``."""
    if preset and mapping:
        raise SchemaError("Give either --preset or --mapping, not both.")
    if preset:
        spec = get_preset(preset)
    elif mapping:
        spec = load_mapping(mapping)
    elif table:
        spec = Spec(table=schema.table(table).name, columns={})
    else:
        raise SchemaError(
            "Say what the file holds: --table users|items|events|orders|order_items|reviews, "
            "or --preset NAME (see `portrait ingest --help`)."
        )
    if table and schema.table(table).name != spec.table:
        raise SchemaError(
            f"--table {table} does not match the {spec.name} mapping, which fills {spec.table}."
        )
    return spec


def ingest(
    ws: Workspace,
    source: str | Path,
    *,
    table: str | None = None,
    preset: str | None = None,
    mapping: str | Path | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    ts_format: str | None = None,
    timezone: str | None = None,
    dry_run: bool = False,
) -> IngestReport:
    """Ingest one file into the workspace and say what happened to every row.

    Parameters
    ----------
    ws
        The workspace.
    source
        A CSV/TSV (optionally gzipped), JSON lines, Parquet or Excel file.
    table, preset, mapping
        What the file holds: a canonical table (columns suggested from the headers), a
        named preset, or a mapping file (TOML).
    delimiter, encoding, ts_format, timezone
        Override what the spec says or detection finds.
    dry_run
        Read and validate everything, write nothing.
    """
    t0 = time.perf_counter()
    path = Path(source)
    spec = resolve_spec(table=table, preset=preset, mapping=mapping)
    read_opts = spec.read
    if delimiter is not None:
        read_opts = replace(read_opts, delimiter=_unescape(delimiter))
    if encoding is not None:
        read_opts = replace(read_opts, encoding=encoding)
    spec = replace(
        spec,
        read=read_opts,
        ts_format=ts_format or spec.ts_format,
        timezone=timezone or spec.timezone,
    )
    if dry_run:
        return _read_and_ingest(ws, path, spec, dry_run=True, t0=t0)
    with ws.run("ingest", source=str(path), table=spec.table, spec=spec.name) as run:
        report = _read_and_ingest(ws, path, spec, dry_run=False, t0=t0)
        run["rows"] = report.accepted
    return report


def _read_and_ingest(
    ws: Workspace, path: Path, spec: Spec, *, dry_run: bool, t0: float
) -> IngestReport:
    raw = read_source(ws.con, path, spec.read)
    try:
        return _ingest(ws, raw, spec, dry_run=dry_run, t0=t0)
    finally:
        raw.close()


def _unescape(delimiter: str) -> str:
    return {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(delimiter, delimiter)


def _resolve_columns(raw: RawSource, spec: Spec) -> Spec:
    """Fill in suggested columns, and check every source column named exists."""
    target = schema.table(spec.table)
    columns = dict(spec.columns)
    if not columns:
        columns = dict(suggest_columns(spec.table, raw.columns))
    for canonical, src in list(columns.items()) + list(spec.extras.items()):
        if isinstance(src, str) and src not in raw.table.columns:
            raise SchemaError(
                f"{raw.path.name} has no column {src!r} for {canonical}; its columns are "
                f"{', '.join(raw.columns)}."
            )
    derivable = {"line"} if spec.table == "order_items" else set()
    if spec.table in _CONTENT_KEYS:
        derivable.add(_CONTENT_KEYS[spec.table])
    missing = [
        c
        for c in target.required
        if c not in columns and c not in spec.constants and c not in derivable
    ]
    if missing:
        used = {s for s in columns.values() if isinstance(s, str)}
        unknown = [c for c in raw.columns if c not in used]
        hint = ""
        if len(raw.columns) == 1 and any(d in raw.columns[0] for d in ",;\t|"):
            found = next(d for d in ",;\t|" if d in raw.columns[0])
            hint = (
                f"; the header {raw.columns[0][:60]!r} contains {found!r}, so the delimiter "
                f"looks wrong: pass --delimiter {found!r} or leave --delimiter out"
            )
        elif unknown:
            hint = (
                f"; columns not recognised: {', '.join(unknown[:8])} - map one with "
                f'--mapping FILE (e.g. [columns] {missing[0]} = "{unknown[0]}")'
            )
        else:
            hint = "; the file lacks it, or name its column in --mapping FILE"
        raise SchemaError(
            f"{raw.path.name} has no column for required {spec.table}.{', '.join(missing)}{hint}."
        )
    return replace(spec, columns=columns)


def _used_columns(raw: RawSource, spec: Spec) -> set[str]:
    """Source columns the spec reads, directly or inside a preset's expressions."""
    used: set[str] = set()
    for src in [*spec.columns.values(), *spec.extras.values()]:
        if isinstance(src, str):
            used.add(src)
        else:
            used |= {f.name for f in src(raw.table).op().find(ops.Field)}
    for predicate, _ in spec.checks:
        used |= {f.name for f in predicate(raw.table).op().find(ops.Field)}
    return used


def _timestamp_formats(
    ws: Workspace, raw: RawSource, spec: Spec
) -> dict[str, parse.TimestampFormat]:
    zone = spec.timezone or ws.config.shop.timezone
    sources = {**spec.columns, **spec.extras}
    out: dict[str, parse.TimestampFormat] = {}
    for tgt in validate.targets(spec):
        key = tgt.label if tgt.table else tgt.column.name
        if tgt.column.kind != "timestamp" or key not in sources:
            continue
        if spec.ts_format:
            out[tgt.field] = parse.TimestampFormat(spec.ts_format, zone)
            continue
        text = parse.clean_text(validate.source_text(raw.table, sources[key]))
        sample = raw.table.select(v=text).filter(ibis._.v.notnull()).limit(5000).to_pyarrow()
        values = sorted(set(sample.column("v").to_pylist()))
        out[tgt.field] = parse.detect_timestamp_format(
            values,
            column=str(sources[key]) if isinstance(sources[key], str) else key,
            source=raw.path.name,
            timezone=zone,
        )
    return out


def _with_keys(staged: ir.Table, spec: Spec) -> ir.Table:
    """Add the natural key columns the source lacks: content ids, line numbers."""
    target = schema.table(spec.table)
    key_col = _CONTENT_KEYS.get(spec.table)
    if key_col and key_col not in staged.columns:
        parts = [
            staged[c].cast(dt.string).fill_null("") for c in target.names if c in staged.columns
        ]
        staged = staged.mutate(**{key_col: md5(ibis.literal("\x1f").join(parts))})
    if spec.table == "order_items" and "line" not in staged.columns:
        line = ibis.row_number().over(group_by=staged.order_id, order_by=staged._row) + 1
        staged = staged.mutate(line=line)
    return staged


def _ingest(ws: Workspace, raw: RawSource, spec: Spec, *, dry_run: bool, t0: float) -> IngestReport:
    con = ws.con
    columns = spec.columns or suggest_columns(spec.table, raw.columns)
    if spec.prepare is not None or (spec.table == "order_items" and "line" not in columns):
        raw.table = number_rows(con, raw.table)  # they need row numbers before typing
    if spec.prepare is not None:
        raw.table = spec.prepare(raw.table)
    spec = _resolve_columns(raw, spec)
    target = schema.table(spec.table)
    ts = _timestamp_formats(ws, raw, spec)
    used = _used_columns(raw, spec)
    report = IngestReport(
        source=str(raw.path),
        table=spec.table,
        spec=spec.name,
        format=raw.format,
        encoding=raw.encoding,
        delimiter=raw.delimiter,
        mapping={
            c: (s if isinstance(s, str) else "(derived by the preset)")
            for c, s in {**spec.columns, **spec.extras}.items()
        }
        | {c: f"= {v!r}" for c, v in spec.constants.items()},
        ignored=[c for c in raw.columns if c not in used],
        ts_formats={f: fmt.format for f, fmt in ts.items()},
        dry_run=dry_run,
    )
    zone = ws.config.shop.timezone
    if spec.shop_timezone and spec.shop_timezone != zone:
        report.notes.append(
            f"this data's shop is in {spec.shop_timezone} but portrait.toml says {zone}; "
            f'set shop.timezone = "{spec.shop_timezone}" so that days are local days'
        )

    # one pass over the source: typed rows, reasons and raw values of the rejected ones
    stage_name = ibis.util.gen_name("typed")
    typed = validate.typed_table(
        raw.table, raw.columns, spec, ts_formats=ts, pii_key=ws.pii_key, now=utcnow()
    )
    staged = con.create_table(stage_name, _with_keys(typed, spec), temp=True)
    if "_row" not in staged.columns:
        staged = with_row_ids(con, stage_name)
    try:
        return _write(ws, raw, spec, target, staged, report, dry_run=dry_run, t0=t0)
    finally:
        con.con.execute(f'DROP TABLE IF EXISTS temp.main."{stage_name}"')


def _write(
    ws: Workspace,
    raw: RawSource,
    spec: Spec,
    target: schema.Table,
    staged: ir.Table,
    report: IngestReport,
    *,
    dry_run: bool,
    t0: float,
) -> IngestReport:
    con = ws.con
    counts = (
        staged.aggregate(n=staged.count(), bad=staged._reason.notnull().sum().fill_null(0))
        .to_pyarrow()
        .to_pylist()[0]
    )
    bad_parse = parse_rejects(con, raw)
    report.read = int(counts["n"]) + len(bad_parse)
    if report.read == 0:
        raise SourceError(f"{raw.path} has a header but no data rows; there is nothing to ingest.")
    report.rejected = int(counts["bad"]) + len(bad_parse)

    reasons: Counter[str] = Counter()
    bad = staged.filter(staged._reason.notnull())
    # one line per kind of problem (quoted values set aside), shown with its first example
    by_kind = (
        bad.group_by(kind=bad._reason.re_replace(r"'[^']*'", "'…'"))
        .aggregate(n=ibis._.count(), example=ibis._._reason.min())
        .order_by(ibis.desc("n"))
        .limit(10)
        .to_pyarrow()
        .to_pylist()
    )
    for row in by_kind:
        reasons[row["example"]] += int(row["n"])
    for row in bad_parse:
        reasons[row["reason"].split(" of the file ", 1)[-1]] += 1
    report.reasons = reasons.most_common(10)

    key = list(target.key)
    ok = staged.filter(staged._reason.isnull())
    n_ok = int(counts["n"]) - int(counts["bad"])
    distinct = int(ok.select(*key).distinct().count().execute()) if n_ok else 0
    if distinct < n_ok:  # duplicates within the file: the first occurrence wins
        first = ibis.row_number().over(group_by=[ok[k] for k in key], order_by=ok._row)
        ok = ok.mutate(_first=first).filter(ibis._._first == 0).drop("_first")
    report.sample = ok.order_by("_row").limit(5).drop("_reason", "_raw").to_pyarrow().to_pylist()

    sha = file_sha256(raw.path)
    earlier = (
        ws.table("ingests")
        .filter((ibis._.sha256 == sha) & (ibis._.table_name == target.name))
        .order_by("started_at")
        .limit(1)
        .to_pyarrow()
        .to_pylist()
    )
    if earlier:
        report.seen_before = str(earlier[0]["started_at"])[:19]
    if dry_run:
        report.accepted = int(_fresh(ws, target.name, ok).count().execute())
        report.duplicates = n_ok - report.accepted
        report.seconds = round(time.perf_counter() - t0, 2)
        return report

    ingest_id = uuid.uuid4().hex[:12]
    now = utcnow()
    con.raw_sql("BEGIN TRANSACTION")
    try:
        report.accepted = _insert_new(ws, target.name, ok)
        report.duplicates = n_ok - report.accepted
        if spec.derive is not None:
            for name, expr in spec.derive(ok).items():
                report.derived[name] = _insert_new(ws, name, expr)
        if not earlier:  # the same file's rejects are already there
            _write_rejects(ws, staged, bad_parse, ingest_id, str(raw.path), target.name, now)
        report.seconds = round(time.perf_counter() - t0, 2)
        ws.append(
            "ingests",
            [
                {
                    "ingest_id": ingest_id,
                    "source": str(raw.path),
                    "sha256": sha,
                    "table_name": target.name,
                    "preset": spec.name,
                    "rows_read": report.read,
                    "accepted": report.accepted,
                    "duplicates": report.duplicates,
                    "rejected": report.rejected,
                    "derived": json.dumps(report.derived),
                    "started_at": now,
                    "seconds": report.seconds,
                }
            ],
        )
        con.raw_sql("COMMIT")
    except BaseException:
        con.raw_sql("ROLLBACK")
        raise
    if not report.balanced:  # by construction; a broken invariant is a bug, say so loudly
        raise AssertionError(f"ingest counts do not add up: {report}")
    return report


def _ibis_type(col: schema.Column) -> dt.DataType:
    return {
        "id": dt.string,
        "string": dt.string,
        "timestamp": dt.timestamp,
        "decimal": parse.MONEY,
        "integer": dt.int64,
        "float": dt.float64,
        "boolean": dt.boolean,
    }[col.kind]


def _fresh(ws: Workspace, name: str, expr: ir.Table) -> ir.Table:
    """Rows of ``expr`` whose natural key table ``name`` does not hold yet, in its columns
    (in the stored table's order: a workspace from an older Portrait has newer columns last).
    """
    target = schema.table(name)
    fresh = expr.anti_join(ws.table(name), list(target.key)) if ws.count(name) else expr
    return fresh.select(
        *[
            fresh[c].cast(_ibis_type(target.column(c)))
            if c in fresh.columns
            else ibis.null(_ibis_type(target.column(c))).name(c)
            for c in ws.table(name).columns
        ]
    )


def _insert_new(ws: Workspace, name: str, expr: ir.Table) -> int:
    """Insert the new rows of ``expr`` into table ``name``; return how many."""
    before = ws.count(name)
    ws.con.insert(name, _fresh(ws, name, expr))
    return ws.count(name) - before


def _write_rejects(
    ws: Workspace,
    staged: ir.Table,
    bad_parse: list[dict[str, Any]],
    ingest_id: str,
    source: str,
    table: str,
    now: Any,
) -> None:
    bad = staged.filter(staged._reason.notnull())
    ws.con.insert(
        "rejects",
        bad.select(
            ingest_id=ibis.literal(ingest_id),
            source=ibis.literal(source),
            table_name=ibis.literal(table),
            row_number=bad._row.cast(dt.int64),
            raw=bad._raw,
            reason=bad._reason,
            rejected_at=ibis.literal(now, dt.timestamp),
        ),
    )
    ws.append(
        "rejects",
        [
            {
                "ingest_id": ingest_id,
                "source": source,
                "table_name": table,
                "rejected_at": now,
                **row,
            }
            for row in bad_parse
        ],
    )
