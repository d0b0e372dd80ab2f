"""Receiving events: ``POST /v1/shops/{shop}/events`` (see :mod:`portrait.api.events`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from portrait.api.deps import Analyst
from portrait.api.errors import error_body
from portrait.api.events import EventIn, EventsReceived
from portrait.errors import ConfigError

router = APIRouter(prefix="/v1/shops/{shop}", tags=["events"])

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "array", "items": EventIn.model_json_schema(),
            "description": "Events with the columns of the canonical events table.",
        }}},
    }
}  # fmt: skip


_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "Not JSON, not a list, or no valid event."}
}


@router.post("/events", response_model=EventsReceived, openapi_extra=_BODY,
             summary="Send events (real time)", responses=_INVALID)  # fmt: skip
async def post_events(request: Request, access: Analyst) -> EventsReceived | JSONResponse:
    """Check each event, ignore those whose ``event_id`` was seen, and store the rest.

    The answer comes once the accepted events are on disk: ``accepted`` are stored,
    ``duplicates`` were ignored, ``rejected`` lists each bad event's index and reasons. When
    no event in a non-empty list is valid, the answer is 422 with the same list.
    """
    raw = await request.body()
    try:
        events = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(
            f"The request body is not valid JSON ({exc}); send a JSON list of events."
        ) from None
    if not isinstance(events, list):
        raise ConfigError("The request body must be a JSON list of events, one object each.")
    result = await access.shop.events.receive(events)
    if events and not result.accepted and not result.duplicates:
        first = result.rejected[0]
        message = (f"None of the {len(events)} events is valid; event {first.index}: "
                   f"{first.reason}.")  # fmt: skip
        rejected = [r.model_dump() for r in result.rejected[:1000]]
        return JSONResponse(error_body("invalid_events", message, rejected=rejected), 422)
    return result
