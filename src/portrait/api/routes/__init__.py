"""The routers, one per resource, all under ``/v1/shops/{shop}``."""

from __future__ import annotations

from portrait.api.routes import audiences, customers, events, insight, keys, shop

__all__ = ["audiences", "customers", "events", "insight", "keys", "shop"]
