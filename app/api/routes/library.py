"""Library browsing: list and delete items, the duplicate report, a GET text search.

Each route takes the caller's `ScopeDep` and hands it on: what a key may see and change is
decided in app/library/access.py, never here."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from app.api.deps import ScopeDep, SearcherDep, ServicesDep
from app.api.openapi import problems
from app.library.browse import delete_image, list_images, text_search
from app.library.duplicates import duplicate_report
from app.library.metadata import edit_metadata
from app.library.models import DeletedImage, DuplicateReport, ImageMetadata, ImagePage, MetadataEdit
from app.search.models import SearchResult

router = APIRouter(tags=["library"])

LibraryParam = Annotated[
    str | None, Query(max_length=200, description="Only this library (every one the key may read when omitted).")
]


@router.get(
    "/images",
    name="list_images",
    response_model=ImagePage,
    response_model_by_alias=True,
    summary="Page through the library",
    responses=problems(404),
)
async def images(
    services: ServicesDep,
    scope: ScopeDep,
    library: LibraryParam = None,
    tag: Annotated[str | None, Query(max_length=200, description="Only items with this tag.")] = None,
    cursor: Annotated[str | None, Query(max_length=64, description="`nextCursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ImagePage:
    return await run_in_threadpool(
        list_images, services.store, library=library, tag=tag, cursor=cursor, limit=limit, scope=scope
    )


@router.get(
    "/images/duplicates",
    name="find_duplicates",
    response_model=DuplicateReport,
    responses=problems(404),
    response_model_by_alias=True,
    summary="Exact (same content) and near (image cosine ≥ threshold) duplicate groups",
)
async def duplicates(
    services: ServicesDep,
    scope: ScopeDep,
    library: LibraryParam = None,
    threshold: Annotated[float | None, Query(ge=0, le=1, description="Default: DUPLICATE_THRESHOLD.")] = None,
    neighbours: Annotated[int, Query(ge=1, le=100, description="Neighbours looked at per item.")] = 10,
) -> DuplicateReport:
    settings = services.settings
    return await run_in_threadpool(
        duplicate_report,
        services.store,
        settings.DUPLICATE_THRESHOLD if threshold is None else threshold,
        library=library,
        neighbours=neighbours,
        hnsw_ef=settings.HNSW_EF,
        scope=scope.read_filter(),
    )


@router.delete(
    "/images/{image_id}",
    name="delete_image",
    response_model=DeletedImage,
    responses=problems(403, 404),
    response_model_by_alias=True,
    summary="Remove an item and its thumbnail (and its file, when the library owns it)",
)
async def delete(image_id: UUID, services: ServicesDep, scope: ScopeDep) -> DeletedImage:
    deleted = await run_in_threadpool(
        delete_image, services.store, services.thumbs, services.settings.IMAGES_ROOT, str(image_id), scope
    )
    # Feedback on it stops shaping profiles (app/library/profiles.py).
    await run_in_threadpool(services.libraries.profiles.forget_images, [deleted.id])
    return deleted


@router.patch(
    "/images/{image_id}",
    name="edit_image_metadata",
    response_model=ImageMetadata,
    responses=problems(403, 404, 422),
    response_model_by_alias=True,
    summary="Correct an item's caption and/or tags (clears `captionGenerated`; the text and tags views follow)",
)
async def edit(image_id: UUID, body: MetadataEdit, services: ServicesDep, scope: ScopeDep) -> ImageMetadata:
    return await run_in_threadpool(edit_metadata, services.store, services.encoders, str(image_id), body, scope)


@router.get(
    "/search",
    name="search_text",
    response_model=SearchResult,
    responses=problems(404, 409),
    response_model_by_alias=True,
    summary="Text search over the text views (image cross-modal, text, tags)",
)
async def search(
    request: Request,
    searcher: SearcherDep,
    scope: ScopeDep,
    query: Annotated[str, Query(min_length=1, max_length=1000)],
    limit: Annotated[int, Query(ge=1, le=200)] = 24,
    library: LibraryParam = None,
) -> SearchResult:
    result = await run_in_threadpool(text_search, searcher, query, limit, library, scope)
    result.request_id = getattr(request.state, "request_id", None)
    return result
