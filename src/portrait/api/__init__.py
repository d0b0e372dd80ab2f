"""The REST API (``portrait serve``): one server, several shops, the library's facts as JSON.

Layout: :mod:`~portrait.api.app` (the app factory), :mod:`~portrait.api.routes` (one router
per resource), :mod:`~portrait.api.deps` (keys and roles as dependencies),
:mod:`~portrait.api.errors` (one error shape), :mod:`~portrait.api.keys`,
:mod:`~portrait.api.audit`, :mod:`~portrait.api.snapshot`, :mod:`~portrait.api.events`,
:mod:`~portrait.api.forget`, :mod:`~portrait.api.shops`.

Decisions:

- **Shops.** Each workspace is a shop, addressed as ``/v1/shops/{shop}/...`` by its folder's
  name (unique per server; checked at start). Keys live in the shop's workspace and open that
  shop only: a key of another shop on the same server gets 403, an unknown shop 404, no key
  or a bad one 401 (checked first, so callers without a key learn nothing).
- **Facts only.** Every route returns a facts object a library function made, as its JSON
  (the response models in ``/openapi.json`` are the facts classes); nothing here computes.
- **The build and the server share a workspace through snapshots** (:mod:`.snapshot`): the
  server never opens ``warehouse.duckdb``; ``portrait build`` publishes a read-only copy and
  a SQLite store of profiles, and the server switches to it within a second, finishing
  in-flight requests on the old one.
- **Events** land in the server's append store and are folded into the warehouse by the next
  build (:mod:`.events`); real-time tags follow them within a second.
- **Errors** are ``{"error": {"code", "message"}}`` with the status of their kind; bodies
  over 1 MB get 413; bad input never gets 500.
- **Audit**: every request that reads a customer is a line of ``serving/audit.jsonl``.
"""

from __future__ import annotations

from portrait.api.app import create_app
from portrait.api.settings import ServerConfig

__all__ = ["ServerConfig", "create_app"]
