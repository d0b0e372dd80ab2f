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

import functools
import json
import logging
import operator
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
from pydantic import ConfigDict

from portrait import schema
from portrait.errors import ConfigError, SchemaError, SourceError
from portrait.facts import Fact
from portrait.hashing import file_sha256, md5
from portrait.ingest import parse, validate
from portrait.ingest.mapping import Spec, load_mapping, suggest_columns
from portrait.ingest.presets import get_preset
from portrait.ingest.readers import (
    LinesUnaccounted,
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
    #: rows whose key was stored with other values: applied with ``--mode update`` (then
    #: counted here, not in duplicates), otherwise left as they were
    changed: int = 0
    updated: int = 0
    #: the first changed row: its key, and each changed column's stored and new value
    change_example: dict[str, Any] = {}
    #: ``--mode replace``: rows of the table removed before this file's were written
    replaced: int = 0
    mode: str = "insert"
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
        return self.read == self.accepted + self.updated + self.duplicates + self.rejected


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
        spec = Spec(table=schema.table(table).name, columns={}, recognise=True)
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
    mode: Literal["insert", "update", "replace"] = "insert",
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
    mode
        Rows whose key the table holds already: ``insert`` leaves them and counts those
        whose values changed; ``update`` writes the changed values (columns the file does
        not carry keep theirs); ``replace`` removes the table's rows first. All in one
        transaction.
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
        mode=_check_mode(mode),
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
    except LinesUnaccounted as why:  # DuckDB's rows do not add up to the file's lines
        log.info("%s; reading it again line by line", why)
    finally:
        raw.close()
    raw = read_source(ws.con, path, replace(spec.read, line_true=True))
    try:
        return _ingest(ws, raw, spec, dry_run=dry_run, t0=t0)
    finally:
        raw.close()


def _check_mode(mode: str) -> Literal["insert", "update", "replace"]:
    if mode not in ("insert", "update", "replace"):
        raise ConfigError(f"--mode {mode!r} is not known; use insert, update or replace.")
    return mode  # type: ignore[return-value]


def _unescape(delimiter: str) -> str:
    return {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(delimiter, delimiter)


def _columns(raw: RawSource, spec: Spec) -> dict[str, Any]:
    """The spec's columns, and where it asks for it, the recognised headers of the columns
    it does not name (a mapping file overrides only the columns it names)."""
    named = dict(spec.columns)
    if not spec.recognise:
        return named
    taken = {s for s in named.values() if isinstance(s, str)} | {spec.alias}
    free = [c for c in raw.columns if c not in taken]
    return {**suggest_columns(spec.table, free), **named}


def _resolve_columns(raw: RawSource, spec: Spec) -> Spec:
    """Fill in suggested columns, and check every source column named exists."""
    target = schema.table(spec.table)
    columns = _columns(raw, spec)
    for column in spec.values:
        if column not in columns and column not in spec.constants:
            raise SchemaError(
                f"{spec.name}: [values.{column}] translates {spec.table}.{column}, but no "
                f"column of {raw.path.name} fills it; map one under [columns] or remove the "
                "section."
            )
    named = list(columns.items()) + list(spec.extras.items())
    if spec.alias is not None:
        named.append(("identities.alias", spec.alias))
    for canonical, src in named:
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
    columns = _columns(raw, spec)
    if spec.prepare is not None or (spec.table == "order_items" and "line" not in columns):
        raw.table = number_rows(con, raw.table, raw)  # they need row numbers before typing
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

    report.notes += _person_id_hint(raw, spec, report.ignored)

    # one pass over the source: typed rows, reasons and raw values of the rejected ones
    stage_name = ibis.util.gen_name("typed")
    typed = validate.typed_table(
        raw.table, raw.columns, spec, ts_formats=ts, pii_key=ws.pii_key, now=utcnow()
    )
    staged = con.create_table(stage_name, _with_keys(typed, spec), temp=True)
    if "_row" not in staged.columns:
        staged = with_row_ids(con, stage_name, raw)
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
    helpers = [c for c in ("_reason", "_raw", "_alias") if c in ok.columns]
    report.sample = ok.order_by("_row").limit(5).drop(*helpers).to_pyarrow().to_pylist()

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
    report.mode = spec.mode
    changes = _changes(ws, target, ok) if spec.mode != "replace" else None
    if changes is not None:
        report.changed = int(changes.count().execute())
        if report.changed:
            report.change_example = _change_example(ws, target, changes)
    if dry_run:
        if spec.mode == "replace":
            report.replaced, report.accepted = ws.count(target.name), distinct
        else:
            report.accepted = int(_fresh(ws, target.name, ok).count().execute())
            report.updated = report.changed if spec.mode == "update" else 0
        report.duplicates = n_ok - report.accepted - report.updated
        report.seconds = round(time.perf_counter() - t0, 2)
        return report

    ingest_id = uuid.uuid4().hex[:12]
    now = utcnow()
    con.raw_sql("BEGIN TRANSACTION")
    try:
        if spec.mode == "replace":
            report.replaced = ws.count(target.name)
            con.raw_sql(f'DELETE FROM "{target.name}"')
        elif spec.mode == "update" and changes is not None and report.changed:
            report.updated = _apply_changes(ws, target, changes)
        report.accepted = _insert_new(ws, target.name, ok)
        report.duplicates = n_ok - report.accepted - report.updated
        if spec.derive is not None:
            for name, expr in spec.derive(ok).items():
                report.derived[name] = _insert_new(ws, name, expr)
        links = []
        if spec.alias is not None:
            links.append(_identity_links(staged, f"{raw.path.name}: {spec.alias}"))
        if target.name == "users":
            links.append(_shared_pii_links(ws))
        if links:
            linked = sum(_insert_new(ws, "identities", expr) for expr in links)
            if linked or spec.alias is not None:
                report.derived["identities"] = linked
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


def _provided(target: schema.Table, ok: ir.Table) -> list[str]:
    """The target's non-key columns this file carries."""
    return [c for c in target.names if c in ok.columns and c not in target.key]


def _changes(ws: Workspace, target: schema.Table, ok: ir.Table) -> ir.Table | None:
    """Rows of ``ok`` whose key is stored with other values in a column the file carries:
    the new row, with the stored one beside it (columns ``_old_*``)."""
    provided = _provided(target, ok)
    if not provided or not ws.count(target.name):
        return None
    stored = ws.table(target.name)
    old = stored.select(
        **{f"_old_{c}": stored[c] for c in target.key},
        **{f"_old_{c}": stored[c] for c in provided},
    )
    new = ok.select(*target.key, **{c: ok[c].cast(_ibis_type(target.column(c))) for c in provided})
    joined = new.join(old, [new[k] == old[f"_old_{k}"] for k in target.key])
    differs = functools.reduce(
        operator.or_, [~joined[c].identical_to(joined[f"_old_{c}"]) for c in provided]
    )
    return joined.filter(differs)


def _change_example(ws: Workspace, target: schema.Table, changes: ir.Table) -> dict[str, Any]:
    row = changes.limit(1).to_pyarrow().to_pylist()[0]
    example: dict[str, Any] = {k: row[k] for k in target.key}
    for name in [c for c in changes.columns if not c.startswith("_old_")]:
        if name not in target.key and row[name] != row[f"_old_{name}"]:
            example[name] = {"stored": row[f"_old_{name}"], "new": row[name]}
    plain: dict[str, Any] = json.loads(json.dumps(example, default=str))
    return plain


def _apply_changes(ws: Workspace, target: schema.Table, changes: ir.Table) -> int:
    """Write the changed rows: the file's values where it has them, the stored ones in the
    columns it does not carry. Returns how many rows changed."""
    stored = ws.table(target.name)
    new_cols = [c for c in changes.columns if not c.startswith("_old_")]
    keys = changes.select(*target.key)
    fresh = changes.select(*new_cols)
    kept = stored.semi_join(keys, list(target.key))
    kept = kept.select(*[c for c in stored.columns if c in target.key or c not in new_cols])
    rows = kept.join(fresh, list(target.key)).select(*stored.columns)
    name = ibis.util.gen_name("changed")
    ws.con.create_table(name, rows, temp=True)
    try:
        on = " AND ".join(f't."{k}" = c."{k}"' for k in target.key)
        ws.con.raw_sql(f'DELETE FROM "{target.name}" AS t USING "{name}" AS c WHERE {on}')
        ws.con.raw_sql(f'INSERT INTO "{target.name}" SELECT * FROM "{name}"')
        return ws.count(name)
    finally:
        ws.con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')


def _person_id_hint(raw: RawSource, spec: Spec, ignored: list[str]) -> list[str]:
    """Say so when user_id is unique per row but an unused id-like column repeats: the file
    probably names each row (order) by a new id, and the person by that column."""
    source = spec.columns.get("user_id")
    candidates = [
        c for c in ignored
        if c != spec.alias and ("id" in c.lower() or "unique" in c.lower() or "编号" in c)
    ]  # fmt: skip
    if not isinstance(source, str) or not candidates:
        return []
    t = raw.table
    counts = t.aggregate(
        rows=t.count(), ids=t[source].nunique(), **{f"c{i}": t[c].nunique()
                                                    for i, c in enumerate(candidates)}
    ).to_pyarrow().to_pylist()[0]  # fmt: skip
    rows, ids = int(counts["rows"]), int(counts["ids"])
    if rows < 100 or ids < 0.99 * rows:
        return []
    for i, column in enumerate(candidates):
        people = int(counts[f"c{i}"] or 0)
        if 0 < people < 0.95 * rows:
            return [
                f"every row has its own {source} ({ids:,}), but {column} repeats ({people:,} "
                f"values): if {column} is the person, link the ids to it with a mapping "
                f'([columns] user_id = "{column}" and [identity] alias = "{source}"; see '
                "docs/ingest.md)"
            ]
    return []


#: PII columns whose shared pseudonym makes two customer ids one person
SHARED_PII = ("phone", "email")


def _shared_pii_links(ws: Workspace) -> ir.Table:
    """Customers with the same phone or e-mail (pseudonymised alike) are one person, and so
    is any chain of them (a phone shared with one, an e-mail with another): each id links to
    the smallest user_id of its connected group."""
    import numpy as np
    import pyarrow as pa
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    users = ws.table("users")
    pairs = []
    for column in SHARED_PII:
        have = users.filter(users[column].notnull())
        shared = have.group_by(column).aggregate(n=have.count()).filter(ibis._.n > 1)
        pairs.append(
            have.semi_join(shared, column).select(
                "user_id", key=ibis.literal(f"{column}:") + have[column]
            )
        )
    edges = ibis.union(*pairs).to_pyarrow()
    ids = np.unique(edges.column("user_id").to_numpy(zero_copy_only=False).astype(str))
    keys = np.unique(edges.column("key").to_numpy(zero_copy_only=False).astype(str))
    empty = pa.table({"alias": pa.array([], pa.string()), "person": pa.array([], pa.string()),
                      "source": pa.array([], pa.string())})  # fmt: skip
    if len(ids):
        u = np.searchsorted(ids, edges.column("user_id").to_numpy(zero_copy_only=False))
        k = len(ids) + np.searchsorted(keys, edges.column("key").to_numpy(zero_copy_only=False))
        n = len(ids) + len(keys)
        graph = coo_matrix((np.ones(len(u)), (u, k)), shape=(n, n))
        _, component = connected_components(graph, directed=False)
        component = component[: len(ids)]
        # ids are sorted, so the first of each component is its smallest user_id
        groups, first_of = np.unique(component, return_index=True)
        first = np.empty(component.max() + 1, dtype=np.int64)
        first[groups] = first_of
        person = ids[first[component]]
        linked = person != ids
        empty = pa.table({"alias": ids[linked], "person": person[linked],
                          "source": ["shared phone or e-mail"] * int(linked.sum())})  # fmt: skip
    name = ibis.util.gen_name("pii_links")
    raw = ws.con.con  # Arrow in through DuckDB's own scan (ibis's memtables cannot, here)
    raw.register(f"{name}_arrow", empty)
    try:
        raw.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM "{name}_arrow"')
    finally:
        raw.unregister(f"{name}_arrow")
    return ws.con.table(name)


def _identity_links(staged: ir.Table, source: str) -> ir.Table:
    """alias -> person from every accepted row (duplicates of a person included: each names
    another alias), one link per alias."""
    rows = staged.filter(
        staged._reason.isnull(), staged._alias.notnull(), staged._alias != staged.user_id
    )
    links = rows.group_by(alias=rows._alias).aggregate(person=rows.user_id.min())
    return links.mutate(source=ibis.literal(source))


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
