"""A workspace is one shop: ``portrait.toml``, the DuckDB warehouse and ``artifacts/``.

The workspace owns the connection (an Ibis backend) and the bookkeeping tables every stage
writes to: ``rejects`` (rows that failed validation, with their reason), ``ingests`` (one row
per ingested source) and ``runs`` (one row per stage run).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from portrait import schema
from portrait.config import CONFIG_FILE, Config, load_config, render_config
from portrait.engine import Engine
from portrait.errors import NotBuiltError, WorkspaceBusyError, WorkspaceError
from portrait.memory import PeakMemory

log = logging.getLogger(__name__)

WAREHOUSE_FILE = "warehouse.duckdb"
KEY_FILE = "pii.key"

#: Bookkeeping tables, created with the canonical ones.
BOOKKEEPING_DDL: dict[str, str] = {
    "rejects": """
        ingest_id VARCHAR, source VARCHAR, table_name VARCHAR, row_number BIGINT,
        raw VARCHAR, reason VARCHAR, rejected_at TIMESTAMP""",
    "ingests": """
        ingest_id VARCHAR, source VARCHAR, sha256 VARCHAR, table_name VARCHAR,
        preset VARCHAR, rows_read BIGINT, accepted BIGINT, duplicates BIGINT,
        rejected BIGINT, derived VARCHAR, started_at TIMESTAMP, seconds DOUBLE""",
    "runs": """
        run_id VARCHAR, stage VARCHAR, as_of TIMESTAMP, params VARCHAR, rows BIGINT,
        seconds DOUBLE, status VARCHAR, message VARCHAR, started_at TIMESTAMP""",
    # saved audiences, their exports and campaigns (portrait.audiences): made with the
    # workspace, so a read-only snapshot of it has them too
    "audiences": """
        name VARCHAR PRIMARY KEY, owner VARCHAR, description VARCHAR, definition VARCHAR,
        created_at TIMESTAMP, updated_at TIMESTAMP""",
    "audience_exports": """
        name VARCHAR, path VARCHAR, format VARCHAR, rows BIGINT, columns VARCHAR, as_of DATE,
        exported_at TIMESTAMP""",
    "campaigns": """
        name VARCHAR PRIMARY KEY, audience VARCHAR, definition VARCHAR, audience_as_of DATE,
        holdout_share DOUBLE, seed BIGINT, stratify_by VARCHAR, start_date DATE,
        end_date DATE, owner VARCHAR, created_at TIMESTAMP""",
    "campaign_members": """
        campaign VARCHAR, user_id VARCHAR, "group" VARCHAR, stratum VARCHAR""",
}


def default_memory_limit() -> str:
    """Half of the machine's memory: DuckDB's own default (80%) leaves too little for the
    Arrow tables and models that run beside it in the same process."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(total // 2 // 2**20, 256)}MB"


def utcnow() -> datetime:
    """Now, in UTC without a zone: the convention of every timestamp in the warehouse."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Workspace:
    """An opened workspace. Create one with :func:`init_workspace` or :func:`open_workspace`."""

    path: Path
    config: Config
    #: the DuckDB file to read instead of ``warehouse.duckdb`` (a serving snapshot)
    warehouse: Path | None = None
    #: open the warehouse read-only: no tables are created, and other processes may read too
    read_only: bool = False
    _con: Any = None
    _engines: dict[str, Any] = field(default_factory=dict)

    # -- connection -------------------------------------------------------------------
    @property
    def con(self) -> ibis.BaseBackend:
        """The Ibis DuckDB backend on ``warehouse.duckdb``, opened on first use."""
        if self._con is None:
            database = self.warehouse or self.path / WAREHOUSE_FILE
            try:
                self._con = ibis.duckdb.connect(str(database), read_only=self.read_only)
            except Exception as exc:  # duckdb.IOException; duckdb is imported lazily by ibis
                if "lock" not in str(exc).lower():
                    raise
                raise WorkspaceBusyError(
                    f"The workspace {self.path} is open in another process (a running "
                    "`portrait` command or a Python session); close it and try again."
                ) from None
            settings = {"TimeZone": "UTC", "memory_limit": self.config.engine.memory_limit}
            if not settings["memory_limit"]:
                settings["memory_limit"] = default_memory_limit()
            if self.config.engine.threads:
                settings["threads"] = str(self.config.engine.threads)
            for key, value in settings.items():
                self._con.raw_sql(f"SET {key} = '{value}'")
            if not self.read_only:
                self._ensure_tables()
        return self._con

    def engine(self, engine: str | Engine | None = None) -> ibis.BaseBackend:
        """The Ibis backend that computes over the canonical tables.

        ``engine`` defaults to ``engine.backend`` in ``portrait.toml``: DuckDB is the
        warehouse itself; Spark reads the same tables through PySpark. A stage's outputs
        are in the warehouse whichever engine computed them: as tables, or as views over
        the files Spark wrote (:meth:`replace_table`).
        """
        chosen = Engine.parse(engine, self.config.engine.backend)
        if chosen is Engine.DUCKDB:
            return self.con
        if chosen not in self._engines:
            from portrait import spark

            self._engines[chosen] = spark.connect(self)
        return self._engines[chosen]

    def has_table(self, name: str) -> bool:
        """Whether the warehouse has ``name`` (a stage's output exists once it has run)."""
        return name in self.con.list_tables()

    def require(self, *names: str) -> None:
        """Raise :class:`NotBuiltError` unless every table in ``names`` has been built."""
        have = set(self.con.list_tables())
        for name in names:
            if name not in have:
                raise NotBuiltError(
                    f"The workspace has no {name} yet; run `portrait build -w {self.path}` first."
                )

    def close(self) -> None:
        if self._con is not None:
            self._con.disconnect()
            self._con = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_tables(self) -> None:
        existing = set(self._con.list_tables())
        for tbl in schema.TABLES.values():
            if tbl.name not in existing:
                cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in tbl.columns)
                self._con.raw_sql(f'CREATE TABLE "{tbl.name}" ({cols})')
                continue
            # a workspace made by an older Portrait gets the columns added since, empty
            have = set(self._con.table(tbl.name).columns)
            for c in tbl.columns:
                if c.name not in have:
                    self._con.raw_sql(
                        f'ALTER TABLE "{tbl.name}" ADD COLUMN "{c.name}" {c.sql_type}'
                    )
        for name, ddl in BOOKKEEPING_DDL.items():
            if name not in existing:
                self._con.raw_sql(f'CREATE TABLE "{name}" ({ddl})')

    # -- tables -----------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """An Ibis expression over one warehouse table."""
        return self.con.table(name)

    def replace_table(self, name: str, obj: Any) -> None:
        """Write a stage's output table (an Ibis expression or Arrow), replacing the old one.

        An expression on the Spark backend, or a Spark DataFrame, is written by Spark and
        the warehouse gets a view over its files (:func:`portrait.spark.write_table`);
        anything else becomes a warehouse table. (Not ``create_table(overwrite=True)`` nor
        ibis's in-memory tables: with sqlglot 30, ibis 12 renders their DROP statements
        without the name.)
        """
        from portrait import spark

        if spark.is_spark(obj):
            spark.write_table(self, name, obj)
            return
        self.drop(name)
        spark.forget(self, name)
        if isinstance(obj, ir.Table):
            self.con.create_table(name, obj)
            return
        raw = self.con.con  # Arrow goes in through DuckDB's zero-copy scan
        raw.register("_portrait_arrow", obj)
        try:
            raw.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _portrait_arrow')
        finally:
            raw.unregister("_portrait_arrow")

    def output(self, name: str, engine: str | Engine | None = None) -> ir.Table:
        """A stage's output as a table of ``engine`` (default: the configured one).

        On DuckDB it is the warehouse table; on Spark it is read by Spark from the files
        the stage wrote (:func:`portrait.spark.output`), so a stage on Spark reads the
        previous stages' outputs without the warehouse or the driver in between.
        """
        if Engine.parse(engine, self.config.engine.backend) is Engine.DUCKDB:
            return self.table(name)
        from portrait import spark

        return spark.output(self, name)

    def drop(self, name: str) -> None:
        """Drop ``name`` from the warehouse, whether a table or a view (over Spark's files)."""
        kinds = self.con.raw_sql(
            "SELECT 'VIEW' FROM duckdb_views() WHERE view_name = $1 AND NOT internal "
            "AND database_name = current_database() UNION ALL SELECT 'TABLE' "
            "FROM duckdb_tables() WHERE table_name = $1 AND database_name = current_database()",
            parameters=[name],
        ).fetchall()
        for (kind,) in kinds:
            self.con.raw_sql(f'DROP {kind} IF EXISTS "{name}"')

    def data_version(self) -> str:
        """Changes whenever an ingest wrote to the warehouse: what built tables, exports and
        caches compare against to know they are out of date."""
        ingests = self.table("ingests")
        row = ingests.aggregate(n=ingests.count(), last=ingests.started_at.max()).to_pyarrow()
        n, last = row.to_pylist()[0].values()
        return f"{n}@{last}"

    def count(self, name: str) -> int:
        return int(self.table(name).count().execute())

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    @property
    def pii_key(self) -> str:
        """The workspace's secret for pseudonymising PII; it never leaves the workspace."""
        return (self.path / KEY_FILE).read_text(encoding="ascii").strip()

    # -- runs ---------------------------------------------------------------------------
    @contextmanager
    def run(
        self, stage: str, *, as_of: datetime | None = None, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Record one stage run in ``runs``: yields a dict the stage fills with ``rows``
        (and ``params_extra``, parameters known only at the end).

        The run's seconds and the process's peak resident memory while it ran
        (``peak_memory_mb`` in its params, :class:`portrait.memory.PeakMemory`) are recorded
        too. The run is recorded as ``failed`` with the error's message if the stage raises.
        """
        info: dict[str, Any] = {"rows": None, "message": "", "params_extra": {}}
        started, t0 = utcnow(), time.perf_counter()
        status = "ok"
        peak = PeakMemory()
        try:
            with peak:
                yield info
        except BaseException as exc:
            status, info["message"] = "failed", str(exc)[:500]
            raise
        finally:
            seconds = time.perf_counter() - t0
            measured = {"peak_memory_mb": round(peak.peak_mb, 1)}
            row = {
                "run_id": uuid.uuid4().hex[:12],
                "stage": stage,
                "as_of": as_of,
                "params": json.dumps(
                    {**params, **info["params_extra"], **measured},
                    default=str,
                    ensure_ascii=False,
                ),
                "rows": info["rows"],
                "seconds": round(seconds, 3),
                "status": status,
                "message": info["message"],
                "started_at": started,
            }
            self.append("runs", [row])

    def copy_warehouse(self, target: Path) -> None:
        """Copy the committed warehouse into a new DuckDB file ``target`` (a read snapshot:
        DuckDB's ``COPY FROM DATABASE`` on this connection, so no second writer opens it)."""
        con = self.con
        database = con.raw_sql("SELECT current_database()").fetchone()[0]
        quoted = str(target).replace("'", "''")
        con.raw_sql(f"ATTACH '{quoted}' AS _snapshot")
        try:
            con.raw_sql(f'COPY FROM DATABASE "{database}" TO _snapshot')
        finally:
            con.raw_sql("DETACH _snapshot")

    def append(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Append a few Python rows (bookkeeping, not data) to a table."""
        if not rows:
            return
        import pyarrow as pa

        target = self.table(name).schema().to_pyarrow()
        self.con.insert(name, pa.Table.from_pylist(rows, schema=target))


def is_workspace(path: str | Path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


def init_workspace(path: str | Path, config: Config | None = None) -> Workspace:
    """Create a workspace in ``path`` (made if missing) and return it opened.

    Writes ``portrait.toml``, a fresh PII key (readable by the owner only), ``artifacts/``
    and the warehouse with every canonical table, empty.
    """
    path = Path(path)
    if is_workspace(path):
        raise WorkspaceError(
            f"{path} is already a Portrait workspace; open it, or choose another folder."
        )
    path.mkdir(parents=True, exist_ok=True)
    config = config or Config()
    (path / CONFIG_FILE).write_text(render_config(config), encoding="utf-8")
    key_file = path / KEY_FILE
    key_file.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    key_file.chmod(0o600)
    (path / "artifacts").mkdir(exist_ok=True)
    ws = open_workspace(path)
    ws.con  # noqa: B018 - creates the warehouse and its tables now
    return ws


def open_workspace(
    path: str | Path = ".", *, warehouse: str | Path | None = None, read_only: bool = False
) -> Workspace:
    """Open the workspace in ``path``; the configuration is validated here.

    ``warehouse`` reads another DuckDB file in place of ``warehouse.duckdb`` (the API server
    reads a published snapshot of it, ``read_only``, while a build writes the warehouse).
    """
    path = Path(path)
    if not is_workspace(path):
        raise WorkspaceError(
            f"{path} is not a Portrait workspace (no {CONFIG_FILE}); "
            f"create one with `portrait init {path}`."
        )
    return Workspace(
        path=path.resolve(), config=load_config(path / CONFIG_FILE),
        warehouse=Path(warehouse).resolve() if warehouse is not None else None,
        read_only=read_only,
    )  # fmt: skip
