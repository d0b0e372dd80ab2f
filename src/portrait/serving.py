"""Where the API server keeps its files in a workspace: ``serving/``, one layout, named once.

The server never opens ``warehouse.duckdb`` (DuckDB allows one writing process, and that is
``portrait build``). It reads a published snapshot of it and owns everything else here::

    serving/
      CURRENT                         the snapshot to serve (JSON, replaced atomically)
      warehouse-<run_id>.duckdb       a copy of the warehouse, opened read-only
      profiles-<run_id>.sqlite        every customer's profile as JSON, for point lookups
      events/incoming/<n>.parquet     events the server received, not yet in the warehouse
      events/folded/<n>.parquet       the same files once ``fold`` ingested them
      api_keys.json                   API keys: salted hashes, never the keys
      audit.jsonl                     one line per request that read a customer

:mod:`portrait.api` writes and reads these files; :mod:`portrait.privacy.forget` rewrites
the event files without a forgotten customer, so the layout lives here, below both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServingPaths"]


@dataclass(frozen=True)
class ServingPaths:
    """The paths of a workspace's ``serving/`` folder."""

    workspace: Path

    @property
    def root(self) -> Path:
        return self.workspace / "serving"

    @property
    def current(self) -> Path:
        return self.root / "CURRENT"

    def warehouse(self, run_id: str) -> Path:
        return self.root / f"warehouse-{run_id}.duckdb"

    def profiles(self, run_id: str) -> Path:
        return self.root / f"profiles-{run_id}.sqlite"

    @property
    def incoming(self) -> Path:
        return self.root / "events" / "incoming"

    @property
    def folded(self) -> Path:
        return self.root / "events" / "folded"

    def event_files(self) -> list[Path]:
        """Every stored event file, received or folded, oldest first."""
        return sorted(self.folded.glob("*.parquet")) + sorted(self.incoming.glob("*.parquet"))

    @property
    def api_keys(self) -> Path:
        return self.root / "api_keys.json"

    @property
    def audit(self) -> Path:
        return self.root / "audit.jsonl"
