"""Dependencies handed to routers with `Depends`, one per resource: state lives on
app.state (the composition root, app/services.py), not in globals. Tests replace any of
them with `app.dependency_overrides[get_x] = ...`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Query, Request

from app.api.security import PrincipalDep
from app.config import Settings
from app.generation.service import GenerationService
from app.imaging import ImageSlots
from app.jobs.base import JobQueue
from app.library.access import LibraryScope
from app.library.imports import ImportService
from app.library.manage import Libraries
from app.library.profiles import ProfileStore
from app.search.complementary import ComplementarySearcher
from app.search.hybrid import HybridSearcher
from app.services import Services
from app.stories.service import StoryService
from app.stories.storyboard import StoryboardService

LibraryResolver = Callable[[str], Path]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_searcher(services: ServicesDep) -> HybridSearcher:
    """The hybrid searcher, refused (409) when the collection holds another embedding space."""
    services.space.check()
    return services.searcher


def get_complementary(services: ServicesDep) -> ComplementarySearcher:
    """The complementary searcher, refused like `get_searcher`."""
    services.space.check()
    return services.complementary


def get_decomposer(services: ServicesDep) -> ComplementarySearcher:
    """The complementary searcher for prompt decomposition only, which reads no vectors and
    so works whatever the collection holds."""
    return services.complementary


def get_libraries(services: ServicesDep) -> Libraries:
    return services.libraries


def get_imports(services: ServicesDep) -> ImportService:
    return services.imports


def get_generation(services: ServicesDep) -> GenerationService:
    return services.generation


def get_jobs(services: ServicesDep) -> JobQueue:
    return services.jobs


def get_stories(services: ServicesDep) -> StoryService:
    return services.stories


def get_storyboards(services: ServicesDep) -> StoryboardService:
    return services.storyboards


def get_image_slots(services: ServicesDep) -> ImageSlots:
    return services.image_slots


def get_profiles(services: ServicesDep) -> ProfileStore:
    return services.libraries.profiles


def get_scope(libraries: Annotated[Libraries, Depends(get_libraries)], principal: PrincipalDep) -> LibraryScope:
    """What the caller may read and write (app/library/access.py), built once per request."""
    return libraries.scope_for(principal)


def get_library_resolver(
    libraries: Annotated[Libraries, Depends(get_libraries)], scope: Annotated[LibraryScope, Depends(get_scope)]
) -> LibraryResolver:
    """Library image ids → files, limited to what the caller may read (generation refs by id,
    describe by id)."""

    def resolve(image_id: str) -> Path:
        return libraries.image_path(image_id, scope)

    return resolve


SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[HybridSearcher, Depends(get_searcher)]
ComplementaryDep = Annotated[ComplementarySearcher, Depends(get_complementary)]
DecomposerDep = Annotated[ComplementarySearcher, Depends(get_decomposer)]
LibrariesDep = Annotated[Libraries, Depends(get_libraries)]
ImportsDep = Annotated[ImportService, Depends(get_imports)]
GenerationDep = Annotated[GenerationService, Depends(get_generation)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]
StoriesDep = Annotated[StoryService, Depends(get_stories)]
StoryboardsDep = Annotated[StoryboardService, Depends(get_storyboards)]
ImageSlotsDep = Annotated[ImageSlots, Depends(get_image_slots)]
ProfilesDep = Annotated[ProfileStore, Depends(get_profiles)]
ScopeDep = Annotated[LibraryScope, Depends(get_scope)]
LibraryResolverDep = Annotated[LibraryResolver, Depends(get_library_resolver)]


def get_known_library(
    libraries: LibrariesDep,
    scope: Annotated[LibraryScope, Depends(get_scope)],
    library: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Only this library (every one the key may read when omitted); 404 when it is none the "
            "key may read.",
        ),
    ] = None,
) -> str | None:
    """`?library=`: checked like GET /libraries/{name}, so a typo is a 404, not an empty page."""
    return None if library is None else libraries.check_exists(scope, library)


KnownLibraryDep = Annotated[str | None, Depends(get_known_library)]
