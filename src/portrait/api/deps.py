"""Who is asking: the API key of a request, its shop and its role, as dependencies.

Every route under ``/v1/shops/{shop}`` takes one of :data:`Viewer`, :data:`Analyst` or
:data:`Admin`. The order of the checks decides the status: no key or an unknown one is 401
(so an unauthenticated caller learns nothing about which shops exist), an unknown shop 404,
a key of another shop on this server 403, a role below the route's 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Path, Request

from portrait.api.errors import ForbiddenError, UnauthorizedError
from portrait.api.keys import ApiKeyInfo, KeyStore, Role, allows
from portrait.api.shops import Shop
from portrait.errors import NotFoundError

__all__ = ["Access", "Admin", "Analyst", "ShopName", "Viewer", "shops_of"]

_NO_KEY = (
    "This route needs an API key: send the header `Authorization: Bearer <key>` "
    "(`portrait api-key create --role viewer -w SHOP` makes one)."
)
_BAD_KEY = "The API key is not valid (unknown, revoked or mistyped); ask an admin for a key."

ShopName = Annotated[str, Path(description="The shop: its workspace folder's name.",
                               max_length=200)]  # fmt: skip


@dataclass(frozen=True)
class Access:
    """A request's shop and key."""

    shop: Shop
    key: ApiKeyInfo


def shops_of(request: Request) -> dict[str, Shop]:
    shops: dict[str, Shop] = request.app.state.shops
    return shops


async def _access(request: Request, shop: ShopName) -> Access:
    shops = shops_of(request)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise UnauthorizedError(_NO_KEY)
    key_id = KeyStore.key_id(presented)
    owner = next((s for s in shops.values() if key_id and s.keys.owns(key_id)), None)
    if owner is None:
        raise UnauthorizedError(_BAD_KEY)
    info = owner.keys.cached(presented)
    if info is None:  # scrypt, tens of milliseconds: off the event loop
        info = await anyio.to_thread.run_sync(owner.keys.verify, presented)
    if info is None:
        raise UnauthorizedError(_BAD_KEY)
    request.state.key = info
    target = shops.get(shop)
    if target is None:
        raise NotFoundError(f"There is no shop {shop!r} on this server; check the URL.")
    if target is not owner:
        raise ForbiddenError(
            f"This key belongs to the shop {owner.name!r}; it cannot be used for {shop!r}."
        )
    return Access(shop=target, key=info)


def _role(needed: Role) -> object:
    async def check(access: Annotated[Access, Depends(_access)]) -> Access:
        if not allows(access.key.role, needed):
            raise ForbiddenError(
                f"A {access.key.role} key cannot do this; it needs the {needed} role "
                "(roles: viewer < analyst < admin)."
            )
        return access

    return Depends(check)


Viewer = Annotated[Access, _role("viewer")]
Analyst = Annotated[Access, _role("analyst")]
Admin = Annotated[Access, _role("admin")]
