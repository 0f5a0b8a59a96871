"""Who may read and write which library: the one place tenancy is enforced.

A caller is a `Principal`: the scope of its key (read / admin) and the owner the key is
bound to (a user or team name), or no owner at all — an operator key, which sees and
changes every library (and the only kind of caller when API_KEYS is unset).

`LibraryScope` turns a principal plus the library registry into what the rest of the code
needs, so routes and services never test owners themselves:

* `read_filter()` — a store filter on the tenant field (`library`, Qdrant's tenant index)
  holding the libraries the caller may read: its own, every public one and the default
  library (public-read). None for operators: no restriction. Searches, listings and the
  duplicate scan AND it with whatever the request asked for, so a request naming another
  tenant's library simply finds nothing.
* `check_read(payload, id)` — a point fetched by id: another tenant's private image is
  `NotFoundError` (404), never 403, so ids do not leak.
* `check_write(library)` / `write_target(requested)` — the libraries the caller owns
  (operator: all). A library it can read but not write is 403; one it cannot see is 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from app.errors import ForbiddenError, InvalidInputError, NotFoundError
from app.storage.schema import TENANT_FIELD, tenant_filter
from app.storage.types import Filter

Scope = Literal["read", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "admin")
Visibility = Literal["private", "public"]
# Owners are named like libraries: letters, digits, - and _ (they appear in keys and logs).
OWNER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Principal:
    """The caller, as its API key says: a scope, and an owner unless it is an operator key."""

    scope: Scope
    owner: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.owner is None

    def may_see(self, owner: str | None) -> bool:
        """Whether something queued by `owner` (a job, its generated files) is this caller's to
        see: an operator sees everything, an owner only what its own keys queued."""
        return self.owner is None or self.owner == owner

    def idempotency_key(self, key: str | None) -> str | None:
        """Idempotency keys live in the caller's namespace: two tenants sending the same
        `Idempotency-Key` get two jobs, and one never receives the other's. Operator keys
        keep the bare key, as before owners existed."""
        if key is None or self.owner is None:
            return key
        return f"owner:{self.owner}:{key}"


# No API_KEYS configured: one user, every library.
OPERATOR = Principal("admin", None)


@dataclass(frozen=True)
class LibraryGrant:
    """What the scope needs to know of a library record."""

    name: str
    owner: str | None
    visibility: Visibility


@dataclass(frozen=True)
class LibraryScope:
    principal: Principal
    default_library: str
    # None: every library (an operator). Otherwise the names, the default library included.
    readable: frozenset[str] | None = None
    writable: frozenset[str] | None = None

    @classmethod
    def build(cls, principal: Principal, grants: Iterable[LibraryGrant], default_library: str) -> LibraryScope:
        if principal.is_operator:
            return cls(principal, default_library)
        grants = list(grants)
        readable = {default_library} | {
            g.name for g in grants if g.visibility == "public" or g.owner == principal.owner
        }
        # A read key writes nothing, whatever it owns (the guard refuses its writes already).
        owned = {g.name for g in grants if g.owner == principal.owner} if principal.scope == "admin" else set()
        return cls(principal, default_library, frozenset(readable), frozenset(owned))

    # --- reads ------------------------------------------------------------------------------
    def can_read(self, library: str | None) -> bool:
        return self.readable is None or (library is not None and library in self.readable)

    def read_filter(self) -> Filter | None:
        if self.readable is None:
            return None
        return tenant_filter(*sorted(self.readable))

    def may_read(self, payload: Mapping[str, Any]) -> bool:
        """Whether the point with this payload is the caller's to see."""
        return self.can_read(payload.get(TENANT_FIELD))

    def check_read(self, payload: Mapping[str, Any], image_id: str) -> None:
        if not self.may_read(payload):
            raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id)

    def check_library_visible(self, library: str) -> None:
        if not self.can_read(library):
            raise NotFoundError(f"no library {library!r}.", library=library)

    # --- writes -----------------------------------------------------------------------------
    def can_write(self, library: str) -> bool:
        return self.writable is None or library in self.writable

    def check_write(self, library: str) -> str:
        """`library` when the caller may change it; 404 when it cannot even see it, 403 otherwise."""
        if self.can_write(library):
            return library
        self.check_library_visible(library)
        raise ForbiddenError(
            f"library {library!r} is read-only to this key; it may write {sorted(self.writable or ())}.",
            library=library,
        )

    def write_target(self, requested: str | None) -> str:
        """The library a write goes into: the one requested, else the default library when
        the caller may write it (operators); an owner key has to name one of its own."""
        if requested is not None:
            return self.check_write(requested)
        if self.can_write(self.default_library):
            return self.default_library
        raise InvalidInputError(
            f"`library`: this key may not write the default library {self.default_library!r}; "
            f"name one of its own: {sorted(self.writable or ())}.",
            field="library",
        )
