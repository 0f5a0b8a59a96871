"""POST/GET/DELETE /libraries: library records with an owner and a visibility.

Routers only translate HTTP; app/library/manage.py does the work and app/library/access.py
decides what the caller may touch.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from app.api.deps import LibrariesDep, ScopeDep, ServicesDep
from app.api.openapi import problems
from app.library.imports.service import JOB_KIND as IMPORT_JOB
from app.library.models import CreateLibrary, DeletedLibrary, LibraryList, LibraryView

router = APIRouter(prefix="/libraries", tags=["libraries"])

NameParam = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post(
    "",
    status_code=201,
    response_model=LibraryView,
    responses=problems(403, 409),
    response_model_by_alias=True,
    summary="Create a library owned by the calling key's owner (private or public)",
)
async def create_library(body: CreateLibrary, libraries: LibrariesDep, scope: ScopeDep) -> LibraryView:
    return await run_in_threadpool(libraries.create, scope, body)


@router.get(
    "",
    response_model=LibraryList,
    responses=problems(409),
    response_model_by_alias=True,
    summary="The libraries this key may read: its own, the public ones and the default",
)
async def list_libraries(libraries: LibrariesDep, scope: ScopeDep) -> LibraryList:
    return await run_in_threadpool(libraries.list, scope)


@router.get(
    "/{name}",
    response_model=LibraryView,
    response_model_by_alias=True,
    summary="One library",
    responses=problems(404, 409),
)
async def get_library(name: NameParam, libraries: LibrariesDep, scope: ScopeDep) -> LibraryView:
    return await run_in_threadpool(libraries.get, scope, name)


@router.delete(
    "/{name}",
    response_model=DeletedLibrary,
    responses=problems(403, 404, 409),
    response_model_by_alias=True,
    summary="Delete a library: its images, their thumbnails and the files it owns",
)
async def delete_library(
    name: NameParam, libraries: LibrariesDep, scope: ScopeDep, services: ServicesDep
) -> DeletedLibrary:
    importing = [job.id for job in await services.jobs.active(IMPORT_JOB) if job.params.get("library") == name]
    deleted = await run_in_threadpool(libraries.delete, scope, name, importing)
    # Its items in the trash go too: nothing is left to restore them into.
    await run_in_threadpool(services.trash.purge_library, name)
    return deleted
