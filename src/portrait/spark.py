"""The Spark engine: the canonical tables of a workspace, as an Ibis PySpark backend.

Ingest always writes the embedded warehouse (DuckDB); when ``engine.backend = "spark"`` the
feature stages read the canonical tables through Spark instead. Spark gets them as Parquet
files, exported from the warehouse into ``artifacts/spark/`` and refreshed only when the
warehouse changed since the last export (a shop whose data already lives in a lake points
Spark at those files instead). PySpark is an optional extra and is imported only here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portrait import schema
from portrait.errors import MissingExtraError

if TYPE_CHECKING:
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
        _SESSIONS[master] = (
            SparkSession.builder.master(master)
            .appName("portrait")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
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
