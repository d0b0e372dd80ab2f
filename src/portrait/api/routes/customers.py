"""A customer: profile (with personas and real-time tags), recommendations, forgetting.

Every request here is written to the shop's audit log (:mod:`portrait.api.audit`). The
profile is read from the snapshot's serving store as the JSON its facts were serialised to
at publish time (:func:`portrait.profile.customer_profiles`), so the route only joins three
JSON documents; recommendations come from :func:`portrait.recommend.recommendations_for` on
the snapshot.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request, Response

from portrait.api.deps import Admin, Analyst
from portrait.facts import Fact
from portrait.llm.persona import Persona
from portrait.privacy import ForgetReport
from portrait.profile import CustomerProfile, unknown_customer
from portrait.recommend import CustomerRecommendations, recommendations_for
from portrait.tags.realtime import RealtimeTags

router = APIRouter(prefix="/v1/shops/{shop}/customers", tags=["customers"])

UserId = Annotated[
    str,
    Path(description="The customer's id as the shop's data writes it (an alias names its "
                     "person).", max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"),
]  # fmt: skip


class CustomerView(Fact):
    """A customer as the API shows them."""

    #: what the last build knows (features, segments, value and churn with reasons, tags)
    profile: CustomerProfile
    #: the built personas of the customer's RFM segment, lifecycle stage and cluster
    personas: list[Persona]
    #: from the events the server received (updated within a second of each)
    realtime: RealtimeTags


@router.get("/{user_id}", response_model=CustomerView, summary="A customer's profile")
async def get_customer(user_id: UserId, access: Analyst) -> Response:
    """The customer's profile as of the last build, the personas of their segments, and their
    real-time tags. 404 for an id the build does not know."""
    with access.shop.snapshot() as snap:
        found = snap.profile(user_id)
        if found is None:
            if not snap.built:
                await anyio.to_thread.run_sync(snap.require_built)
            raise unknown_customer(user_id)
    person, profile, personas = found
    realtime = access.shop.realtime(person).model_dump_json()
    body = f'{{"profile":{profile},"personas":[{",".join(personas)}],"realtime":{realtime}}}'
    return Response(body, media_type="application/json")


@router.get("/{user_id}/realtime", response_model=RealtimeTags, summary="Real-time tags")
async def get_realtime(user_id: UserId, access: Analyst) -> RealtimeTags:
    """Last active, cart abandoned in the last 24 hours, sessions today: from the events the
    server received. 404 for an id neither the build nor the events know."""
    shop = access.shop
    if not shop.recent.knows(user_id):
        with shop.snapshot() as snap:
            found = snap.profile(user_id)
        if found is None:
            raise unknown_customer(user_id)
        user_id = found[0]
    return shop.realtime(user_id)


@router.get("/{user_id}/recommendations", response_model=CustomerRecommendations,
            summary="Items to offer the customer")  # fmt: skip
def get_recommendations(
    user_id: UserId,
    access: Analyst,
    n: Annotated[int, Query(ge=1, le=100, description="How many items.")] = 10,
    category: Annotated[
        str | None, Query(max_length=200, description="Only items whose category starts so.")
    ] = None,
) -> CustomerRecommendations:
    """The customer's stored list from the last build, best first, each with its reason."""
    with access.shop.snapshot() as snap:
        return snap.call(lambda ws: recommendations_for(ws, user_id, n=n, category=category))


@router.delete("/{user_id}", response_model=ForgetReport, summary="Forget a customer (admin)")
async def delete_customer(user_id: UserId, access: Admin, request: Request) -> ForgetReport:
    """Remove the customer (and their aliases) from every table, cache, export, event file
    and snapshot; the report counts what was removed and names nobody (nor does the audit
    line of this request). 423 while a build holds the warehouse."""
    shop = access.shop
    await shop.events.flush()
    report = await anyio.to_thread.run_sync(
        lambda: shop.forget(user_id, requested_by=f"api-key:{access.key.key_id}")
    )
    request.state.audit_user_id = None
    return report
