"""Logs that carry the request id: a context variable set per request, a filter, two formats.

`configure_logging(settings)` (called by `main.py`) installs one stderr handler on the root
logger: ``LOG_FORMAT=text`` for people, ``json`` (one object per line) for log shippers.
Every record gets ``request_id`` — the ``X-Request-ID`` the client sent or one made up
for it, also echoed on the response — so a line can be matched to the request and back.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from app.config import Settings

request_id_var: ContextVar[str | None] = ContextVar("clippy_request_id", default=None)

# Extra attributes (log(..., extra={...})) copied into JSON lines when present.
EXTRA_FIELDS = ("method", "path", "route", "status", "duration_ms", "client")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_MARK = "_clippy_handler"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "requestId": getattr(record, "request_id", None),
        }
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def make_handler(fmt: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    setattr(handler, _MARK, True)
    return handler


def configure_logging(settings: Settings) -> None:
    """Replace Clippy's root handler (idempotent); other handlers are left alone."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    root.addHandler(make_handler(settings.LOG_FORMAT))
    root.setLevel(settings.LOG_LEVEL)
    # uvicorn's CLI gives its loggers their own handlers and format before it imports the app;
    # hand their records to the root handler instead, so every line has one format.
    # `--no-access-log` leaves uvicorn.access without handlers and not propagating: keep it off.
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if name == "uvicorn.access" and not logger.handlers:
            continue
        logger.handlers.clear()
        logger.propagate = True
