"""Dependencies handed to routers with `Depends`: state lives on app.state, not in globals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from app.api.security import PrincipalDep
from app.config import Settings
from app.library.access import LibraryScope
from app.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_scope(request: Request, principal: PrincipalDep) -> LibraryScope:
    """What the caller may read and write (app/library/access.py), built once per request."""
    services = request.app.state.services
    libraries = getattr(services, "libraries", None)
    if libraries is None:  # an app without a library registry (one router under test): operators only
        return LibraryScope.build(principal, (), services.settings.DEFAULT_LIBRARY)
    scope: LibraryScope = libraries.scope_for(principal)
    return scope


def get_library_resolver(
    request: Request, scope: Annotated[LibraryScope, Depends(get_scope)]
) -> LibraryResolver | None:
    """Library image ids → files, limited to what the caller may read (generation refs by id,
    describe by id). None where the app has no library store: generation keeps its own."""
    services = request.app.state.services
    if not isinstance(services, Services):
        return None

    def resolve(image_id: str) -> Path:
        return services.resolve_library_image(image_id, scope)

    return resolve


LibraryResolver = Callable[[str], Path]

ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ScopeDep = Annotated[LibraryScope, Depends(get_scope)]
LibraryResolverDep = Annotated[LibraryResolver | None, Depends(get_library_resolver)]
