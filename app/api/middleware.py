"""One ASGI middleware for what every request needs: an id, a body bound, a log line, metrics.

* Request id: the client's ``X-Request-ID`` when it is sane (≤ 128 of ``[A-Za-z0-9._-]``),
  else a new one; on ``request.state.request_id``, in every log record, echoed on the response.
* Body bound: ``Content-Length`` above MAX_REQUEST_BYTES is refused with 413 before the app
  runs; a body without a length (chunked) is counted as it streams and refused the same way.
  Library imports (``POST /libraries/{library}/imports``, ZIP uploads) are bounded by
  ZIP_MAX_TOTAL_BYTES instead.
* One access-log line and the request metrics per request, labelled by route template
  (``/image/{image_id}``), never by the raw path.
* With tracing on (app/telemetry.py), a span per request, "HTTP {method} {route template}"
  (`TracingMiddleware`): jobs queued while it is current carry it to their worker.

It is pure ASGI (no BaseHTTPMiddleware), so streamed responses are not buffered.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api import metrics as metrics_module
from app.api.errors import PROBLEM_MEDIA_TYPE, problem_body
from app.api.logs import request_id_var
from app.api.metrics import Metrics
from app.config import Settings
from app.errors import PayloadTooLargeError
from app.telemetry import span, tracing_on

access_log = logging.getLogger("clippy.access")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
IMPORT_PATH = re.compile(r"^/libraries/[^/]+/imports/?$")


def _request_id(given: str | None) -> str:
    return given if given and _SANE_ID.match(given) else uuid.uuid4().hex


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path or "/"
    return "unmatched"


class OperationsMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body: int, max_import_body: int | None = None, metrics: Metrics | None = None
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_import_body = max_import_body or max_body
        self.metrics = metrics

    def _limit(self, path: str) -> tuple[int, str]:
        if IMPORT_PATH.match(path):
            return self.max_import_body, "ZIP_MAX_TOTAL_BYTES"
        return self.max_body, "MAX_REQUEST_BYTES"

    def _too_large(self, rid: str, path: str, limit: int, setting: str) -> tuple[Message, Message]:
        message = f"The request body is larger than {limit} bytes ({setting})."
        problem = problem_body(
            413, "payload_too_large", message, instance=path, request_id=rid, details={"limit": limit}
        )
        body = json.dumps(problem).encode()
        start: Message = {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", rid.encode()),
                (b"connection", b"close"),
            ],
        }
        return start, {"type": "http.response.body", "body": body, "more_body": False}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        rid = _request_id(headers.get("x-request-id"))
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        limit, setting = self._limit(scope.get("path", ""))
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "received": 0, "exceeded": False, "replaced": False}
        if self.metrics is not None:
            self.metrics.in_flight.inc()

        async def bounded_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["exceeded"] = True
                    raise PayloadTooLargeError(
                        f"The request body is larger than {limit} bytes ({setting}).", limit=limit
                    )
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                if state["exceeded"]:
                    # Whatever the app made of the cut-off body (a parse error, say), the answer is 413.
                    state["replaced"] = True
                    state["status"] = 413
                    for part in self._too_large(rid, scope.get("path", ""), limit, setting):
                        await send(part)
                    return
                state["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            elif state["replaced"]:
                return
            await send(message)

        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                state["status"] = 413
                for part in self._too_large(rid, scope.get("path", ""), limit, setting):
                    await send(part)
                return
            try:
                await self.app(scope, bounded_receive, send_with_id)
            except PayloadTooLargeError:
                if not state["exceeded"] or state["replaced"]:
                    raise
                state["status"] = 413
                for part in self._too_large(rid, scope.get("path", ""), limit, setting):
                    await send(part)
        finally:
            seconds = time.perf_counter() - started
            route = _route_label(scope)
            if self.metrics is not None:
                self.metrics.in_flight.dec()
                self.metrics.observe_request(scope["method"], route, state["status"], seconds)
            path = scope.get("path", "")
            quiet = path in QUIET_PATHS
            # The decoded path may hold a %0a the client sent: escaped, it cannot forge a log line.
            path = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in path)
            access_log.log(
                logging.DEBUG if quiet else logging.INFO,
                "%s %s %s %.1fms",
                scope["method"],
                path,
                state["status"],
                seconds * 1000,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "route": route,
                    "status": state["status"],
                    "duration_ms": round(seconds * 1000, 2),
                    "client": (scope.get("client") or ("-",))[0],
                },
            )
            request_id_var.reset(token)


class TracingMiddleware:
    """A span per HTTP request while tracing is on, named by the route template once routing
    has found it (``HTTP POST /images/generate``), with the response's status; a plain pass
    through otherwise (checked per request, so nothing of OpenTelemetry is imported when off)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing_on() or scope.get("path") in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", ""))
        status = 500  # what an exception that escapes the app becomes

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with span(f"HTTP {method}", **{"http.request.method": method}) as current:
            try:
                await self.app(scope, receive, send_status)
            finally:
                if current is not None:
                    # The router writes the matched route into the scope as it dispatches.
                    route = _route_label(scope)
                    current.update_name(f"HTTP {method} {route}")
                    current.set_attribute("http.route", route)
                    current.set_attribute("http.response.status_code", status)
                    if rid := request_id_var.get(None):
                        current.set_attribute("http.request.id", rid)
                    if status >= 500:
                        from opentelemetry.trace import StatusCode

                        current.set_status(StatusCode.ERROR)


def install_operations(app: FastAPI, settings: Settings) -> None:
    """Add the middleware and, with METRICS_ENABLED, `GET /metrics`."""
    metrics = Metrics() if settings.METRICS_ENABLED else None
    app.state.metrics = metrics
    if metrics is not None:
        app.include_router(metrics_module.router)
    # Inside OperationsMiddleware (added later, so outer): the span sees the request id.
    app.add_middleware(TracingMiddleware)
    app.add_middleware(
        OperationsMiddleware,
        max_body=settings.MAX_REQUEST_BYTES,
        # Library imports take ZIP uploads; their own bound is ZIP_MAX_TOTAL_BYTES (app/library).
        max_import_body=getattr(settings, "ZIP_MAX_TOTAL_BYTES", None),
        metrics=metrics,
    )
