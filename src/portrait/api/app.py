"""The app factory: :func:`create_app` makes the FastAPI app that serves every shop given."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portrait import __version__
from portrait.api import routes
from portrait.api.errors import BodyLimit, install_handlers
from portrait.api.settings import ServerConfig
from portrait.api.shops import Shop

log = logging.getLogger(__name__)

__all__ = ["create_app"]

DESCRIPTION = """User portraits (用户画像) of each shop this server serves, read from the last
build's snapshot: customer profiles with personas and real-time tags, recommendations,
segments, tags, the feature catalogue, what reviews say; events in real time; API keys.

Every route is under `/v1/shops/{shop}`, where `shop` is the workspace folder's name, and needs
`Authorization: Bearer <key>` with a key of that shop (`portrait api-key create`). Roles:
viewer (aggregates), analyst (also customers and events), admin (also keys and forgetting).
Errors are `{"error": {"code": ..., "message": ...}}` with the status of their kind."""


class AuditRequests:
    """ASGI middleware: every request to a ``/customers/{user_id}`` route, whatever its
    outcome, is a line of its shop's audit log (a route may blank the id: forgetting)."""

    def __init__(self, app: ASGIApp, shops: dict[str, Shop]) -> None:
        self.app = app
        self.shops = shops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "")
            params: dict[str, Any] = scope.get("path_params", {})
            shop = self.shops.get(params.get("shop", ""))
            if shop is not None and "{user_id}" in route:
                state = scope.get("state", {})
                key = state.get("key")
                shop.audit.write(
                    key_id=key.key_id if key else None, role=key.role if key else None,
                    method=scope["method"], route=route,
                    user_id=state.get("audit_user_id", params.get("user_id")), status=status,
                )  # fmt: skip


async def _watch(shop: Shop, every: float) -> None:
    """Follow ``serving/CURRENT``: a new snapshot is served within ``every`` seconds."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(shop.refresh)
        except Exception:  # a snapshot deleted under us, a half-written one: next time
            log.exception("shop %s: could not open the new snapshot", shop.name)


def create_app(config: ServerConfig) -> FastAPI:
    """The API of the workspaces in ``config``; raises ConfigError for a bad configuration.

    Starting the app (its lifespan) opens each shop's snapshot, publishing a first one for
    a workspace that has none, and starts the event writers and the snapshot watchers.
    """
    shops = {name: Shop(name, path, config) for name, path in config.shops().items()}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.gather(*(asyncio.to_thread(shop.start) for shop in shops.values()))
        tasks = [asyncio.create_task(shop.events.run()) for shop in shops.values()]
        tasks += [asyncio.create_task(_watch(shop, config.snapshot_check_seconds))
                  for shop in shops.values()]  # fmt: skip
        try:
            yield
        finally:
            for shop in shops.values():
                await shop.events.flush()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for shop in shops.values():
                shop.close()

    app = FastAPI(title="Portrait API", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan)  # fmt: skip
    app.state.shops = shops
    install_handlers(app)
    app.add_middleware(AuditRequests, shops=shops)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    for module in (routes.shop, routes.customers, routes.insight, routes.events, routes.keys,
                   routes.audiences):  # fmt: skip
        app.include_router(module.router)

    @app.get("/v1/health", tags=["server"], summary="Is the server up")
    async def health() -> dict[str, str]:
        """Always answers while the server runs; needs no key."""
        return {"status": "ok"}

    return app
