"""The engines that compute over a workspace's tables, spelled one way.

Ibis calls the Spark backend ``pyspark``; the configuration says ``spark``. Both spellings
parse to :class:`Engine`, and nothing else compares engine names as strings.
"""

from __future__ import annotations

from enum import StrEnum

from portrait.errors import ConfigError


class Engine(StrEnum):
    """Where table work runs: the embedded DuckDB warehouse, or Spark at scale."""

    DUCKDB = "duckdb"
    SPARK = "spark"

    @classmethod
    def parse(cls, value: str | Engine | None, default: Engine | None = None) -> Engine:
        """An engine from its configured name or an Ibis backend's name (``pyspark``)."""
        if value is None:
            if default is None:
                raise ConfigError("No engine given; use 'duckdb' or 'spark'.")
            return default
        if isinstance(value, Engine):
            return value
        name = {"pyspark": "spark"}.get(value.lower(), value.lower())
        try:
            return cls(name)
        except ValueError:
            raise ConfigError(f"Unknown engine {value!r}; use 'duckdb' or 'spark'.") from None

    @classmethod
    def of(cls, backend: object) -> Engine:
        """The engine of an Ibis backend (a connection)."""
        return cls.parse(str(getattr(backend, "name", "")))
