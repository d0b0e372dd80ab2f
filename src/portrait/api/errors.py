"""Every error the API returns: JSON ``{"error": {"code": ..., "message": ...}}``, one handler.

A :class:`~portrait.errors.PortraitError` keeps its kind's status (``.status``: a bad
argument 422, an unknown id 404, nothing built 409, the warehouse busy 423 ...) and its
message, one sentence that says what to do. Starlette's own errors (no such route, a method
the route does not take) and request validation (bad JSON, a query parameter out of range)
get the same shape. Bodies over the limit are refused with 413 before they are read whole
(:class:`BodyLimit`). Anything else is a bug: 500, logged with its traceback, and a message
that says so without the details.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portrait.errors import ConfigError, PortraitError

log = logging.getLogger(__name__)

__all__ = ["UnauthorizedError", "BodyLimit", "ForbiddenError", "error_body", "install_handlers"]


class UnauthorizedError(PortraitError, PermissionError):
    """No API key, or one the server does not know."""

    status = 401


class ForbiddenError(PortraitError, PermissionError):
    """The key is valid but its role or its shop does not allow this request."""

    status = 403


class PayloadTooLargeError(PortraitError, ValueError):
    """The request body is larger than the server takes."""

    status = 413


#: codes by status, for errors that are not Portrait's own
_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "not_built", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "invalid_request", 423: "workspace_busy",
    500: "internal_error", 501: "not_implemented", 502: "bad_gateway", 503: "unavailable",
}  # fmt: skip


def _code(exc: PortraitError) -> str:
    if isinstance(exc, ConfigError):
        return "invalid_request"
    name = type(exc).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON of an error response."""
    return {"error": {"code": code, "message": message, **extra}}


def _portrait_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PortraitError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(error_body(_code(exc), str(exc)), exc.status, headers=headers)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        message = f"There is no route {request.url.path}; /docs lists the routes."
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}; /docs lists the routes."
    else:
        message = str(exc.detail)
    return JSONResponse(
        error_body(_CODES.get(status, "error"), message), status, headers=exc.headers
    )


def _where(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "the request"
    kind, *rest = loc
    names = {"query": "query parameter", "path": "path parameter", "body": "body",
             "header": "header"}  # fmt: skip
    place = names.get(str(kind), str(kind))
    return f"{place} {'.'.join(str(p) for p in rest)}".strip()


def validation_message(errors: list[dict[str, Any]]) -> str:
    """One sentence for pydantic/FastAPI validation errors (the first; how many more)."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        why = first.get("ctx", {}).get("error", "it cannot be parsed")
        return f"The request body is not valid JSON ({why}); send a JSON document."
    message = f"{_where(tuple(first.get('loc', ())))}: {first.get('msg', 'is invalid')}"
    more = len(errors) - 1
    return message + (f" (and {more} more problem{'s' if more > 1 else ''})." if more else ".")


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(error_body("invalid_request", validation_message(list(exc.errors()))), 422)


def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "The server failed on this request (a bug); it is logged."),
        500,
    )


def install_handlers(app: FastAPI) -> None:
    """Route every kind of error to its JSON response."""
    app.add_exception_handler(PortraitError, _portrait_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _bug)


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, by its length or as it streams."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and not declared.isdigit():
            bad = error_body("bad_request", "The Content-Length header is not a number.")
            await JSONResponse(bad, 400)(scope, receive, send)
            return
        if declared is not None and int(declared) > self.limit:
            too_large = error_body("payload_too_large", self._message())
            await JSONResponse(too_large, 413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLargeError(self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return (
            f"The request body is larger than {self.limit:,} bytes; send events in smaller batches."
        )
