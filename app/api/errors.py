"""Every error answer as RFC 9457 problem details, from one handler map.

The body, served as ``application/problem+json``::

    {"type": "https://clippy.dev/problems/invalid_input", "title": "Invalid input", "status": 422,
     "detail": "`wImg`: Input should be greater than or equal to 0", "instance": "/search/hybrid",
     "code": "invalid_input", "requestId": "…", "errors": [{"field": "wImg", "message": "…"}]}

* ``type`` is ``https://clippy.dev/problems/<code>``: a stable identifier per error code (RFC 9457
  §3.1.1 lets a type URI be an identifier that is not dereferenced; clients match ``code``).
  ``title`` is the same for every answer of one type; ``detail`` is this occurrence's message.
* ``instance`` is the request path; ``requestId`` the id echoed in ``X-Request-ID``.
* ``errors`` lists the fields at fault (``[]`` when none is).
* Other facts a domain error carries (``limit``, ``retryAfter``, ``ids``, ``provider``…) are
  extension members (§3.2), named in camelCase like the rest of the API.

Domain errors (app/errors.py), request validation, routing (404/405), the body bound
(app/api/middleware.py, 413), security (401/403/429) and bugs (500) all answer this way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from pydantic.alias_generators import to_camel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.errors import ClippyError
from app.models import CamelModel

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://clippy.dev/problems/"
# nginx's "client closed request": the client left before its body arrived. Nobody reads the
# answer; the status is for the access log and the request metric (a 4xx, not a server error).
CLIENT_CLOSED = 499
# Routing errors Starlette raises itself, by status; any other status gets `http_error`.
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
# Members the standard or this contract already uses: a domain error's details never replace them.
RESERVED = frozenset({"type", "title", "status", "detail", "instance", "code", "requestId", "errors"})


class FieldProblem(CamelModel):
    field: str = Field(description="The field at fault, dotted (`refs.0.id`); empty for the body as a whole.")
    message: str


class Problem(CamelModel):
    """RFC 9457 problem details, with Clippy's `code`, `requestId` and field `errors`."""

    type: str = Field(description="`https://clippy.dev/problems/<code>`: one URI per error code.")
    title: str = Field(description="A short summary, the same for every problem of this type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong in this request, and what to change.")
    instance: str = Field(description="The request path.")
    code: str = Field(description="A stable, machine-readable error code (`invalid_input`, `not_found`, …).")
    request_id: str | None = Field(description="The request id, also in the `X-Request-ID` header.")
    errors: list[FieldProblem] = Field(description="The fields at fault, if any.")

    # Extension members (RFC 9457 §3.2): `limit`, `retryAfter`, `ids`, … as the error carries them.
    model_config = {"extra": "allow"}


def title_of(code: str) -> str:
    return code.replace("_", " ").capitalize()


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str,
    request_id: str | None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON of one problem. `details` (a domain error's keyword facts): `field` and
    `problems` become `errors`; the rest become camelCase extension members."""
    extra = dict(details or {})
    problems = extra.pop("problems", None)
    field = extra.pop("field", None)
    if problems:
        errors = [{"field": str(p.get("field", "")), "message": str(p.get("message", ""))} for p in problems]
    elif field is not None:
        errors = [{"field": str(field), "message": detail}]
    else:
        errors = []
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title_of(code),
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "requestId": request_id,
        "errors": errors,
    }
    for key, value in extra.items():
        name = to_camel(key)
        if name not in RESERVED:
            body[name] = value
    return body


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(
        status,
        code,
        detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        details=details,
    )
    return JSONResponse(body, status_code=status, headers=dict(headers or {}) or None, media_type=PROBLEM_MEDIA_TYPE)


async def _clippy_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClippyError)
    if exc.status_code >= 500:
        # A 503 with Retry-After is load being shed as designed (IMAGE_SLOTS), not a fault.
        log.log(logging.WARNING if "retry_after" in exc.details else logging.ERROR, "%s: %s", exc.code, exc.message)
    headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else None
    return problem_response(request, exc.status_code, exc.code, exc.message, exc.details, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "message": err["msg"]} for err in exc.errors()
    ]
    first = problems[0] if problems else {"field": "", "message": "invalid request"}
    message = f"`{first['field']}`: {first['message']}" if first["field"] else first["message"]
    return problem_response(request, 422, "invalid_input", message, {"problems": problems})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    if exc.status_code == 400:
        # FastAPI's "error parsing the body" (bytes that are not UTF-8 JSON) and Starlette's
        # unreadable forms: a body that cannot be read is invalid input, as malformed JSON is.
        return problem_response(
            request, 422, "invalid_input", f"the body cannot be read: {exc.detail}", headers=headers
        )
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return problem_response(request, exc.status_code, code, str(exc.detail), headers=headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not a refusal: the same shape, no internals; the traceback goes to the log.
    # This answer leaves through Starlette's outermost error middleware, past the one that
    # adds X-Request-ID to every other answer: so it sets the header itself.
    rid = getattr(request.state, "request_id", None)
    return problem_response(
        request,
        500,
        "internal_error",
        "An unexpected error occurred; quote the requestId to report it.",
        headers={"X-Request-ID": rid} if rid else None,
    )


async def _client_disconnect(request: Request, exc: Exception) -> Response:
    # Not a failure of ours: no traceback, no problem body, no 5xx.
    log.debug("client went away mid-body on %s %s", request.method, request.url.path)
    return Response(status_code=CLIENT_CLOSED)


# The one map: exception class → handler. Starlette picks the most specific class.
HANDLERS = {
    Exception: _unexpected_error,
    ClippyError: _clippy_error,
    RequestValidationError: _validation_error,
    StarletteHTTPException: _http_error,
    ClientDisconnect: _client_disconnect,
}


def install_error_handlers(app: FastAPI) -> None:
    for exc_class, handler in HANDLERS.items():
        app.add_exception_handler(exc_class, handler)
