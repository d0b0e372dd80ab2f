"""The Spark engine: the canonical tables of a workspace, as an Ibis PySpark backend, and
the stages' outputs as Spark tables.

Ingest always writes the embedded warehouse (DuckDB); when ``engine.backend = "spark"`` the
stages read the canonical tables through Spark instead. Spark gets them as Parquet
files, exported from the warehouse into ``artifacts/spark/`` and refreshed only when the
warehouse changed since the last export (a shop whose data already lives in a lake points
Spark at those files instead). PySpark is an optional extra and is imported only here and
in the stages' ``on_spark`` modules.

A stage that runs on Spark writes its per-customer outputs with Spark, as Parquet under
``artifacts/spark/tables/<name>/`` (:func:`write_table`), registers them in the workspace's
Spark session for the next stages (:func:`output`), and leaves in the warehouse a *view* of
the same name over those files. The CLI, the API and the report keep reading
``ws.table(name)`` through DuckDB, and no stage pulls every customer through the driver to
put them there. ``artifacts/`` must therefore be on storage the Spark executors share with
the driver (a local folder in local mode).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from portrait import schema
from portrait.engine import Engine
from portrait.errors import MissingExtraError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from portrait.workspace import Workspace

log = logging.getLogger(__name__)

_SESSIONS: dict[str, Any] = {}


def session(master: str, *, driver_memory: str = "2g") -> Any:
    """A SparkSession on ``master`` in UTC (timestamps in the warehouse are UTC wall times)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise MissingExtraError(
            'engine.backend = "spark" needs PySpark; install it with '
            "pip install 'shop-portrait[spark]'."
        ) from None
    if master not in _SESSIONS:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python workers (mapInPandas scoring) run this interpreter, which has Portrait
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        _SESSIONS[master] = (
            SparkSession.builder.master(master)
            .appName("portrait")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", driver_memory)
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.sql.ansi.enabled", "false")
            .getOrCreate()
        )
        _SESSIONS[master].sparkContext.setLogLevel("ERROR")
    return _SESSIONS[master]


def export_tables(ws: Workspace) -> Path:
    """Write the canonical tables as Parquet for Spark, unless the last export is current."""
    folder = ws.artifacts / "spark"
    stamp = folder / "exported.json"
    current = ws.data_version()
    if stamp.exists() and stamp.read_text(encoding="utf-8") == current:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in schema.TABLES:
        target = folder / f"{name}.parquet"
        ws.con.to_parquet(ws.table(name), target)
    stamp.write_text(current, encoding="utf-8")
    log.info("exported the warehouse to %s for Spark", folder)
    return folder


_SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.ansi.enabled": "false",
}


def connect(ws: Workspace) -> Any:
    """An Ibis PySpark backend with every canonical table registered under its name.

    Each workspace gets its own Spark session on the shared context: temporary views belong
    to a session, so two workspaces open in one process never see each other's tables.
    """
    import ibis

    engine = ws.config.engine
    own = session(engine.spark_master, driver_memory=engine.spark_memory).newSession()
    for key, value in _SQL_CONF.items():
        own.conf.set(key, value)
    con = ibis.pyspark.connect(own)
    folder = export_tables(ws)
    for name in schema.TABLES:
        con.read_parquet(str(folder / f"{name}.parquet"), table_name=name)
    return con


# -- stage outputs as Spark tables ---------------------------------------------------------
def spark_session(ws: Workspace) -> Any:
    """The workspace's own SparkSession (the one its Ibis backend and temporary views use)."""
    return ws.engine(Engine.SPARK)._session


def is_spark(obj: object) -> bool:
    """Whether ``obj`` is computed by Spark: a Spark DataFrame, or an Ibis expression bound
    to the PySpark backend (nothing is imported to tell)."""
    if type(obj).__module__.startswith("pyspark.sql"):
        return True
    find = getattr(obj, "_find_backend", None)
    if find is None:
        return False
    from ibis.common.exceptions import IbisError

    try:
        return Engine.of(find(use_default=False)) is Engine.SPARK
    except IbisError:  # an unbound expression, or one that mixes backends
        return False


def dataframe(obj: Any) -> Any:
    """The Spark DataFrame of a PySpark Ibis expression (a DataFrame is returned as it is)."""
    if type(obj).__module__.startswith("pyspark.sql"):
        return obj
    con = obj._find_backend(use_default=False)
    con._run_pre_execute_hooks(obj)
    return con._session.sql(con.compile(obj))


def table_dir(ws: Workspace, name: str) -> Path:
    """Where Spark keeps the stage output ``name``: a folder of Parquet files."""
    return ws.artifacts / "spark" / "tables" / name


def write_table(ws: Workspace, name: str, obj: Any) -> None:
    """Write a stage output with Spark and make it readable by both engines.

    The rows go to a fresh folder that then takes the place of the old one, so a write that
    fails leaves the last output whole. The folder is registered in the workspace's Spark
    session under ``name`` (the next stages read it from there, :func:`output`) and the
    warehouse gets a view ``name`` over its files, typed as :data:`portrait.schema.OUTPUTS`
    declares, in place of any table of that name.
    """
    df = dataframe(obj)
    target = table_dir(ws, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    fresh = target.parent / f".{name}.{tag}.new"
    df.write.parquet(str(fresh))
    old = target.parent / f".{name}.{tag}.old"
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    _register(ws, name, target)
    _warehouse_view(ws, name, target)
    log.info("wrote %s with Spark to %s", name, target)


def _register(ws: Workspace, name: str, folder: Path) -> ir.Table:
    con = ws.engine(Engine.SPARK)
    return con.read_parquet(str(folder), table_name=name)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _warehouse_view(ws: Workspace, name: str, folder: Path) -> None:
    """``CREATE VIEW name`` over the Parquet files of ``folder``, with the declared types.

    Columns :data:`portrait.schema.OUTPUTS` declares are cast to their type; any other
    timestamp comes as the warehouse's UTC wall time (``TIMESTAMP``), as every timestamp in
    it does.
    """
    glob = str(folder / "*.parquet").replace("'", "''")
    source = f"read_parquet('{glob}')"
    declared = (
        {c.name: c.sql_type for c in schema.OUTPUTS[name].columns} if name in schema.OUTPUTS else {}
    )
    columns = []
    for column, kind, *_ in ws.con.raw_sql(f"DESCRIBE SELECT * FROM {source}").fetchall():
        want = declared.get(column) or ("TIMESTAMP" if kind.startswith("TIMESTAMP") else kind)
        q = _quoted(column)
        columns.append(q if want == kind else f"CAST({q} AS {want}) AS {q}")
    ws.drop(name)
    ws.con.raw_sql(f"CREATE VIEW {_quoted(name)} AS SELECT {', '.join(columns)} FROM {source}")


def forget(ws: Workspace, name: str) -> None:
    """Remove the Spark copy of ``name`` (the warehouse now holds it as a table)."""
    shutil.rmtree(table_dir(ws, name), ignore_errors=True)


def output(ws: Workspace, name: str) -> ir.Table:
    """A stage output as a table of the workspace's Spark backend.

    An output Spark wrote is read from its folder; one the warehouse holds as a table (a
    small one written from the driver, or a stage last run on DuckDB) is exported to Parquet
    for Spark first, by DuckDB, without passing through Spark's driver.
    """
    folder = table_dir(ws, name)
    if folder.exists():
        return _register(ws, name, folder)
    ws.require(name)
    exported = ws.artifacts / "spark" / "warehouse" / f"{name}.parquet"
    exported.parent.mkdir(parents=True, exist_ok=True)
    ws.con.to_parquet(ws.table(name), exported)
    return _register(ws, name, exported)


@contextmanager
def scratch(ws: Workspace, obj: Any, name: str) -> Iterator[Any]:
    """``obj`` computed once, written to a scratch folder and read back as a DataFrame.

    A checkpoint that several later queries read (cluster assignments feed both the
    profiles and the segments table) without recomputing it, and without holding it in
    memory as ``cache()`` would; the folder goes when the block ends.
    """
    folder = ws.artifacts / "spark" / "scratch" / f"{name}.{uuid.uuid4().hex[:8]}"
    dataframe(obj).write.parquet(str(folder))
    try:
        yield spark_session(ws).read.parquet(str(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def broadcast(ws: Workspace, value: Any) -> Any:
    """``value`` sent once to every executor (a fitted model); read it as ``.value``."""
    return spark_session(ws).sparkContext.broadcast(value)


def from_arrow(ws: Workspace, table: Any) -> Any:
    """A small Arrow table from the driver (a model's few rows) as a Spark DataFrame."""
    return spark_session(ws).createDataFrame(table.to_pandas())


def map_arrow(df: Any, fn: Callable[[pa.Table], pa.Table], schema: str) -> Any:
    """``df`` through ``fn`` on the executors, one Arrow batch at a time (``mapInArrow``).

    The per-customer scoring of the stages runs this way: ``fn`` takes a batch of rows as
    an Arrow table (the record batches Spark already exchanges with Python for
    ``mapInPandas``, without the pandas conversion) and returns the output rows, which are
    cast to ``schema`` (a Spark DDL string such as ``"user_id string, score double"``). What
    ``fn`` needs from the driver (a fitted model) goes in a :func:`broadcast` it reads.
    """
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import StructType, _parse_datatype_string

    struct = _parse_datatype_string(schema)
    assert isinstance(struct, StructType)  # a DDL list of columns parses to one
    target = to_arrow_schema(struct)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out = fn(pa.Table.from_batches([batch]))
            yield from out.select(target.names).cast(target).to_batches()

    return df.mapInArrow(run, struct)


def rebind(ws: Workspace, expr: ir.Expr) -> ir.Expr:
    """``expr``, written over the warehouse's tables, as the same query over Spark's: each
    table it reads is swapped for the Spark table of that name (a stage output from its
    files, :func:`output`; a canonical table from the export). For the library functions
    that build their queries on the warehouse, so a stage on Spark can run them there."""
    import ibis.expr.operations as ops

    con = ws.engine(Engine.SPARK)
    swapped = {}
    for node in expr.op().find(ops.DatabaseTable):
        table = output(ws, node.name) if node.name in schema.OUTPUTS else con.table(node.name)
        swapped[node] = table.op()
    return expr.op().replace(swapped).to_expr()


def spark_outputs(ws: Workspace) -> list[str]:
    """The stage outputs Spark holds (the warehouse has views over their files)."""
    root = ws.artifacts / "spark" / "tables"
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def forget_rows(ws: Workspace, keys: dict[str, list[str]]) -> dict[str, int]:
    """Rewrite every Spark-held output without the rows whose ``user_id``, ``order_id`` or
    ``review_id`` (the columns ``keys`` names) is one of the forgotten values; the rows
    removed from each. The warehouse's views over them cannot be deleted from, so
    forgetting a customer (:mod:`portrait.privacy`) rewrites the files instead."""
    from pyspark.sql import functions as F

    removed: dict[str, int] = {}
    for name in spark_outputs(ws):
        df = spark_session(ws).read.parquet(str(table_dir(ws, name)))
        hit = None
        for column, values in keys.items():
            if column in df.columns and values:
                match = F.col(column).isin(values)
                hit = match if hit is None else hit | match
        if hit is None:
            continue
        n = df.filter(hit).count()
        if n:
            write_table(ws, name, df.filter(~hit))
            removed[name] = n
    return removed


def discard_exports(ws: Workspace) -> int:
    """Delete the canonical tables' Parquet copies made for Spark (:func:`export_tables`
    makes them again from the warehouse when Spark next needs them); how many files."""
    folder = ws.artifacts / "spark"
    gone = 0
    for path in (*folder.glob("*.parquet"), folder / "exported.json"):
        if path.is_file():
            path.unlink()
            gone += 1
    return gone
