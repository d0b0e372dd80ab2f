"""Portrait: user portraits (用户画像) for e-commerce operations teams.

The package is layered, and imports point one way only (``lint-imports`` checks it):

- **interfaces** render facts and compute nothing: :mod:`portrait.cli` and
  :mod:`portrait.terminal` (later the REST API and the dashboard);
- **orchestration**: :mod:`portrait.pipeline` (the registered stages of ``portrait build``
  and the build's state) and :mod:`portrait.datasets` (the demo, the shop generator);
- **capabilities** read tables and return facts: :mod:`~portrait.ingest`,
  :mod:`~portrait.segments`, :mod:`~portrait.value`, :mod:`~portrait.recommend`,
  :mod:`~portrait.overview`, :mod:`~portrait.profile`, :mod:`~portrait.privacy`;
- **core**: the workspace and its configuration (:mod:`~portrait.workspace`,
  :mod:`~portrait.config`); the vocabulary the configuration names (:mod:`~portrait.features`,
  :mod:`~portrait.tags`); and the base every layer shares: time (:mod:`~portrait.asof`), the
  leakage-safe view of the warehouse as of a date (:mod:`~portrait.history`), the tables
  (:mod:`~portrait.schema`), the engine (:mod:`~portrait.engine`), the model registries
  (:mod:`~portrait.registry`), facts and labels (:mod:`~portrait.facts`,
  :mod:`~portrait.labels`), the stage contract (:mod:`~portrait.stages`), run records
  (:mod:`~portrait.runs`), hashing (:mod:`~portrait.hashing`) and errors
  (:mod:`~portrait.errors`).

``docs/architecture.md`` is the longer map.
"""

from __future__ import annotations

from portrait.workspace import Workspace, init_workspace, open_workspace

__version__ = "0.1.0"

__all__ = ["Workspace", "__version__", "init_workspace", "open_workspace"]
