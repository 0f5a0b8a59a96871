"""Domain errors → JSON HTTP responses, in one place.

Every error body has the same shape::

    {"error": {"code": "invalid_input", "message": "...", "details": {...}}, "requestId": "..."}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import ClippyError

log = logging.getLogger(__name__)


def error_body(request: Request, code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, "details": details or {}},
        "requestId": getattr(request.state, "request_id", None),
    }


async def _clippy_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClippyError)
    if exc.status_code >= 500:
        log.error("%s: %s", exc.code, exc.message)
    headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else None
    return JSONResponse(
        error_body(request, exc.code, exc.message, exc.details),
        status_code=exc.status_code,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "message": err["msg"]} for err in exc.errors()
    ]
    first = problems[0] if problems else {"field": "", "message": "invalid request"}
    message = f"`{first['field']}`: {first['message']}" if first["field"] else first["message"]
    return JSONResponse(error_body(request, "invalid_input", message, {"problems": problems}), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(request, code, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not a refusal: the same JSON shape, no internals; the traceback goes to the log.
    body = error_body(request, "internal_error", "An unexpected error occurred; quote the requestId to report it.")
    rid = body["requestId"]
    return JSONResponse(body, status_code=500, headers={"X-Request-ID": rid} if rid else None)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_exception_handler(ClippyError, _clippy_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
