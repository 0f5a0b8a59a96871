"""API keys with scopes, per-client rate limits, and browser origins (CORS).

* Keys come from ``API_KEYS`` (comma-separated ``key`` or ``key:admin``). When any key is
  configured, every API route needs one in ``x-api-key`` (or ``Authorization: Bearer``);
  only ``/healthz`` and ``/readyz`` stay open. A ``read`` key may search, fetch images and
  poll jobs; changing anything (queueing a generation, cancelling a job, importing) needs
  ``admin``. Unknown keys get 401, a read key on an admin route 403.
* ``RATE_LIMIT`` (``limits`` notation, ``600/minute;50/second``) counts requests per key,
  or per client address without a valid key; over the limit is 429 with ``Retry-After``.

Both run as one dependency applied to every API route (``guard_dependencies``), so routers
added later are covered without touching them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request, Security
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import APIKeyHeader
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from app.config import Settings
from app.errors import ForbiddenError, OverloadedError, UnauthorizedError

log = logging.getLogger(__name__)

Scope = Literal["read", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "admin")

# Open to anyone, never counted: load balancers and orchestrators probe these.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
# Scraped by Prometheus; needs a key when keys are set, but is not rate limited.
UNLIMITED_PATHS = OPEN_PATHS | {"/metrics"}
# POST routes that only read (queries); every other unsafe method needs an admin key.
QUERY_PREFIXES = ("/search/", "/images/describe")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def required_scope(method: str, path: str) -> Scope | None:
    """The scope a request needs: None for the open paths, read for queries, admin for changes."""
    if path in OPEN_PATHS:
        return None
    if method.upper() in SAFE_METHODS or path.startswith(QUERY_PREFIXES):
        return "read"
    return "admin"


@dataclass(frozen=True)
class ApiKeys:
    """Configured keys and their scopes. Lookups compare in constant time."""

    scopes: dict[str, Scope] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> ApiKeys:
        scopes: dict[str, Scope] = {}
        for entry in (raw or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            key, _, scope = entry.partition(":")
            key, scope = key.strip(), (scope.strip() or "read")
            if scope not in SCOPES:
                raise ValueError(f"API_KEYS: scope {scope!r} of a key is not one of {list(SCOPES)}.")
            if len(key) < 16:
                raise ValueError(f"API_KEYS: a key of {len(key)} characters is too short; use at least 16.")
            scopes[key] = "admin" if scope == "admin" else "read"
        return cls(scopes)

    @property
    def enabled(self) -> bool:
        return bool(self.scopes)

    def scope_of(self, key: str) -> Scope | None:
        found: Scope | None = None
        given = key.encode()
        for candidate, scope in self.scopes.items():
            if hmac.compare_digest(candidate.encode(), given):
                found = scope
        return found


class RateLimiter:
    """`limits` sliding-window counters, in memory or in Redis (RATE_LIMIT_STORAGE)."""

    def __init__(self, spec: str, storage_url: str = "memory://") -> None:
        try:
            self.items: list[RateLimitItem] = parse_many(spec)
        except ValueError as e:
            raise ValueError(f"RATE_LIMIT={spec!r} is not in `limits` notation (e.g. `600/minute;50/second`).") from e
        url = storage_url if storage_url.startswith("async+") else f"async+{storage_url}"
        # redis-py is installed already (the job queue uses it); `limits` would ask for coredis.
        options = {"implementation": "redispy"} if url.startswith(("async+redis", "async+rediss")) else {}
        storage = storage_from_string(url, **options)
        assert isinstance(storage, Storage)
        self.limiter = SlidingWindowCounterRateLimiter(storage)

    async def hit(self, identity: str) -> None:
        """Count one request for `identity`, or raise OverloadedError (429, Retry-After)."""
        for item in self.items:
            if not await self.limiter.hit(item, identity):
                stats = await self.limiter.get_window_stats(item, identity)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise OverloadedError(
                    f"Rate limit of {item} exceeded (RATE_LIMIT); retry in {retry_after} s.",
                    limit=str(item),
                    retry_after=retry_after,
                )


@dataclass
class Guard:
    """What the dependency checks; lives on `app.state.guard`."""

    keys: ApiKeys
    limiter: RateLimiter | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Guard:
        limiter = RateLimiter(settings.RATE_LIMIT, settings.RATE_LIMIT_STORAGE) if settings.RATE_LIMIT else None
        return cls(ApiKeys.parse(settings.API_KEYS), limiter)

    async def check(self, request: Request, key: str | None) -> None:
        path, method = request.url.path, request.method
        scope_needed = required_scope(method, path)
        if key is None:
            auth = request.headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                key = auth[7:].strip()
        scope = self.keys.scope_of(key) if key and self.keys.enabled else None
        if self.limiter is not None and path not in UNLIMITED_PATHS:
            # Count before judging the key, so guessing keys is rate limited too.
            if scope is not None and key:
                identity = "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
            else:
                identity = "ip:" + (request.client.host if request.client else "unknown")
            await self.limiter.hit(identity)
        if not self.keys.enabled or scope_needed is None:
            return
        if scope is None:
            raise UnauthorizedError(
                "An API key is required: send it in the `x-api-key` header." if not key else "Unknown API key."
            )
        if scope_needed == "admin" and scope != "admin":
            raise ForbiddenError(f"{method} {path} needs an admin key; this key is read-only.", scope=scope)
        request.state.key_scope = scope


_api_key_header = APIKeyHeader(
    name="x-api-key",
    auto_error=False,
    description="An API key from API_KEYS (`Authorization: Bearer <key>` works too).",
)


async def _guard_with_key(request: Request, key: Annotated[str | None, Security(_api_key_header)]) -> None:
    guard: Guard = request.app.state.guard
    await guard.check(request, key)


async def _guard(request: Request) -> None:
    guard: Guard = request.app.state.guard
    await guard.check(request, request.headers.get("x-api-key"))


def guard_dependencies(settings: Settings) -> list[Any]:
    """App-wide dependencies for `FastAPI(dependencies=...)`; the key shows in OpenAPI when keys are set."""
    return [Depends(_guard_with_key if settings.API_KEYS else _guard)]


def install_security(app: FastAPI, settings: Settings) -> None:
    """Put the guard on `app.state` and add CORS when CORS_ORIGINS is set."""
    app.state.guard = Guard.from_settings(settings)
    if settings.ENVIRONMENT == "production" and not app.state.guard.keys.enabled:
        log.warning("ENVIRONMENT=production without API_KEYS: every route is open to anyone who can reach it.")
    origins = [o.strip() for o in (settings.CORS_ORIGINS or "").split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["x-api-key", "authorization", "content-type", "idempotency-key", "x-request-id"],
            expose_headers=["x-request-id", "retry-after", "location"],
            max_age=600,
        )
