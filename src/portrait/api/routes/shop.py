"""The shop itself: which snapshot of which build the server is reading."""

from __future__ import annotations

from fastapi import APIRouter

from portrait.api.deps import Viewer
from portrait.api.snapshot import Published
from portrait.facts import Fact

router = APIRouter(prefix="/v1/shops/{shop}", tags=["shop"])


class ShopStatus(Fact):
    """A served shop: its name, time zone, and the snapshot being read (none before the
    first build)."""

    shop: str
    timezone: str
    snapshot: Published | None


@router.get("", response_model=ShopStatus, summary="The shop and its snapshot")
def get_shop(access: Viewer) -> ShopStatus:
    """The snapshot every read of this shop comes from (``portrait build`` publishes them)."""
    shop = access.shop
    return ShopStatus(shop=shop.name, timezone=shop.timezone, snapshot=shop.published())
