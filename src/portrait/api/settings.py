"""The server's settings: which workspaces (shops) it serves, where it listens, its limits.

These are the settings of one ``portrait serve`` process, not of a shop: each shop's own
configuration stays in its ``portrait.toml``. They are checked when the app is made
(:func:`portrait.api.create_app`): every folder must be a workspace, and no two may share a
name, since the folder's name is the shop's name in every URL (``/v1/shops/{shop}/...``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from portrait.errors import ConfigError
from portrait.workspace import is_workspace

__all__ = ["ServerConfig"]


class ServerConfig(BaseModel):
    """Settings of one API server."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: the workspaces to serve; each folder's name is its shop's name in URLs
    workspaces: list[Path] = Field(min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    #: request bodies larger than this get 413
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    #: events are written to disk in micro-batches: at most this long after the first ...
    flush_seconds: float = Field(default=0.2, gt=0)
    #: ... or as soon as this many are waiting
    flush_events: int = Field(default=1000, gt=0)
    #: how often the server looks for a newly published snapshot
    snapshot_check_seconds: float = Field(default=1.0, gt=0)
    #: DuckDB connections per snapshot, for the reads that query it
    connections: int = Field(default=4, gt=0)

    def shops(self) -> dict[str, Path]:
        """Shop name -> workspace folder; a clear error for a folder that is not a workspace
        or a name two folders share."""
        out: dict[str, Path] = {}
        for folder in self.workspaces:
            path = folder.expanduser().resolve()
            if not is_workspace(path):
                raise ConfigError(
                    f"{folder} is not a Portrait workspace; pass folders made by `portrait init`."
                )
            if path.name in out and out[path.name] != path:
                raise ConfigError(
                    f"Two workspaces are named {path.name!r} ({out[path.name]} and {path}); "
                    "the folder name is the shop's name in URLs, so rename one."
                )
            out[path.name] = path
        return out
