"""API keys of the shop (admin): list, make (the key is in the answer once), revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from portrait.api.deps import Admin
from portrait.api.keys import (
    ApiKeyInfo,
    ApiKeys,
    NewApiKey,
    Role,
    create_key,
    list_keys,
    revoke_key,
)

router = APIRouter(prefix="/v1/shops/{shop}/keys", tags=["keys"])


class KeyRequest(BaseModel):
    """A key to make."""

    model_config = ConfigDict(extra="forbid")

    role: Role


@router.get("", response_model=ApiKeys, summary="The shop's keys")
def get_keys(access: Admin) -> ApiKeys:
    """Every key's id, role, shop, creation time and maker; never the keys."""
    return list_keys(access.shop.path)


@router.post("", response_model=NewApiKey, status_code=201, summary="Make a key")
def post_key(body: KeyRequest, access: Admin) -> NewApiKey:
    """A new key for this shop with ``role``; the key is in this answer only."""
    made = create_key(access.shop.path, body.role, created_by=f"api-key:{access.key.key_id}")
    access.shop.keys.reload()
    return made


@router.delete("/{key_id}", response_model=ApiKeyInfo, summary="Revoke a key")
def delete_key(
    key_id: Annotated[str, Path(max_length=64, description="The key's id.")], access: Admin
) -> ApiKeyInfo:
    """Delete the key; it stops working at once."""
    revoked = revoke_key(access.shop.path, key_id)
    access.shop.keys.reload()
    return revoked
