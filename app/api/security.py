"""API keys with scopes, per-client rate limits, and browser origins (CORS).

* Keys come from ``API_KEYS`` (comma-separated ``key``, ``key:admin``, or ``key:scope:owner``).
  When any key is configured, every API route needs one in ``x-api-key`` (or
  ``Authorization: Bearer``); only ``/healthz`` and ``/readyz`` stay open. A ``read`` key may
  search, fetch images and poll jobs; changing anything (queueing a generation, cancelling a
  job, importing) needs ``admin``. Unknown keys get 401, a read key on an admin route 403.
* A key bound to an owner (a user or team name) reaches only that owner's libraries, the
  public ones and the default library; a key without one is an operator key (everything),
  as every key was before owners existed. The guard puts the caller's `Principal` on
  ``request.state.principal``; routers take it as `PrincipalDep`, and app/library/access.py
  turns it into what each library may be read or written by.
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
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import APIKeyHeader
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from app.config import Settings
from app.errors import ForbiddenError, OverloadedError, UnauthorizedError
from app.library.access import OPERATOR, OWNER_NAME, SCOPES, Principal, Scope

log = logging.getLogger(__name__)

__all__ = ["SCOPES", "ApiKeys", "Guard", "Principal", "PrincipalDep", "Scope", "get_principal"]

# Open to anyone, never counted: load balancers and orchestrators probe these.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
# Scraped by Prometheus; needs a key when keys are set, but is not rate limited.
UNLIMITED_PATHS = OPEN_PATHS | {"/metrics"}
# POST routes that only read (queries); every other unsafe method needs an admin key.
QUERY_PREFIXES = ("/search/", "/images/describe", "/atlas")
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
    """Configured keys and who they stand for. Lookups compare in constant time."""

    principals: dict[str, Principal] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> ApiKeys:
        """``key`` (read), ``key:admin``, ``key:read:owner`` / ``key:admin:owner`` (an empty
        scope, ``key::owner``, reads). No owner: an operator key, as before owners existed."""
        principals: dict[str, Principal] = {}
        for entry in (raw or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            key, _, rest = entry.partition(":")
            scope, _, owner = rest.partition(":")
            key, scope, owner = key.strip(), (scope.strip() or "read"), owner.strip()
            if scope not in SCOPES:
                raise ValueError(f"API_KEYS: scope {scope!r} of a key is not one of {list(SCOPES)}.")
            if len(key) < 16:
                raise ValueError(f"API_KEYS: a key of {len(key)} characters is too short; use at least 16.")
            if owner and not OWNER_NAME.match(owner):
                raise ValueError(f"API_KEYS: owner {owner!r} of a key may hold 1-64 letters, digits, - and _ only.")
            principals[key] = Principal("admin" if scope == "admin" else "read", owner or None)
        return cls(principals)

    @property
    def enabled(self) -> bool:
        return bool(self.principals)

    def principal_of(self, key: str) -> Principal | None:
        found: Principal | None = None
        given = key.encode()
        for candidate, principal in self.principals.items():
            if hmac.compare_digest(candidate.encode(), given):
                found = principal
        return found

    def scope_of(self, key: str) -> Scope | None:
        principal = self.principal_of(key)
        return principal.scope if principal else None


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
        principal = self.keys.principal_of(key) if key and self.keys.enabled else None
        if self.limiter is not None and path not in UNLIMITED_PATHS:
            # Count before judging the key, so guessing keys is rate limited too.
            if principal is not None and key:
                identity = "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
            else:
                identity = "ip:" + (request.client.host if request.client else "unknown")
            await self.limiter.hit(identity)
        if not self.keys.enabled:
            request.state.principal = OPERATOR  # one user: every library
            return
        if scope_needed is None:
            return
        if principal is None:
            raise UnauthorizedError(
                "An API key is required: send it in the `x-api-key` header." if not key else "Unknown API key."
            )
        if scope_needed == "admin" and principal.scope != "admin":
            raise ForbiddenError(f"{method} {path} needs an admin key; this key is read-only.", scope=principal.scope)
        request.state.key_scope = principal.scope
        request.state.principal = principal


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


def get_principal(request: Request) -> Principal:
    """The caller the guard let in. An app built without the guard (unit tests of one
    router) has no keys, so its caller is the operator; with keys, a route the guard did
    not judge (an open path) has no principal and gets 401 if it asks for one."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return principal
    guard: Guard | None = getattr(request.app.state, "guard", None)
    if guard is None or not guard.keys.enabled:
        return OPERATOR
    raise UnauthorizedError("An API key is required: send it in the `x-api-key` header.")


PrincipalDep = Annotated[Principal, Depends(get_principal)]


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
