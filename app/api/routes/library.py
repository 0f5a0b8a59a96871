"""Library browsing: list items, delete them into the trash and restore them, duplicate scans
(jobs) and the duplicate report, a GET text search.

Each route takes the caller's `ScopeDep` and hands it on: what a key may see and change is
decided in app/library/access.py, never here."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import KnownLibraryDep, ScopeDep, SearcherDep, ServicesDep
from app.api.openapi import problems
from app.api.routes.images import file_response
from app.errors import UnsupportedMediaError
from app.jobs import JobView
from app.library.browse import list_images, text_search
from app.library.metadata import edit_metadata
from app.library.models import (
    DeletedImage,
    DeletedImages,
    DeleteImages,
    DuplicateReport,
    DuplicateScanRequest,
    ImageMetadata,
    ImagePage,
    ImageSummary,
    MetadataEdit,
    TrashList,
)
from app.search.models import SearchResult

router = APIRouter(tags=["library"])


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
    library: KnownLibraryDep,
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
    summary="Exact duplicate groups now (same content), and the near groups of the caller's last scan",
)
async def duplicates(services: ServicesDep, scope: ScopeDep, library: KnownLibraryDep) -> DuplicateReport:
    return await services.duplicates.report(scope, library)


@router.post(
    "/images/duplicates/scans",
    name="scan_duplicates",
    status_code=202,
    response_model=JobView,
    response_model_by_alias=True,
    summary="Scan for near duplicates (image cosine ≥ threshold) as a job",
    description="The near groups appear in `GET /images/duplicates` once the job succeeds, until the "
    "library changes. Refused (409, with the reason) while the image model has random weights.",
    responses={202: {"description": "Queued; poll the `Location` header (/jobs/{id})."}, **problems(404, 409)},
)
async def scan_duplicates(
    body: DuplicateScanRequest, response: Response, services: ServicesDep, scope: ScopeDep
) -> JobView:
    job = await services.duplicates.submit(scope, body)
    response.headers["Location"] = f"/jobs/{job.id}"
    view: JobView = job.view()
    return view


@router.delete(
    "/images/{image_id}",
    name="delete_image",
    response_model=DeletedImage,
    responses=problems(403, 404),
    response_model_by_alias=True,
    summary="Move an item to the trash (restorable for TRASH_TTL_S; 0: removed at once)",
)
async def delete(image_id: UUID, services: ServicesDep, scope: ScopeDep) -> DeletedImage:
    return await run_in_threadpool(services.trash.delete, str(image_id), scope)


@router.post(
    "/images/deletions",
    name="delete_images",
    response_model=DeletedImages,
    responses=problems(403, 404),
    response_model_by_alias=True,
    summary="Move several items to the trash; more than BULK_DELETE_CONFIRM_ABOVE need `confirm`",
)
async def delete_many(body: DeleteImages, services: ServicesDep, scope: ScopeDep) -> DeletedImages:
    return await run_in_threadpool(
        services.trash.delete_many, body.ids, body.confirm, services.settings.BULK_DELETE_CONFIRM_ABOVE, scope
    )


@router.get(
    "/trash",
    name="list_trash",
    response_model=TrashList,
    response_model_by_alias=True,
    summary="Deleted items the caller may restore, newest first",
)
async def trash(services: ServicesDep, scope: ScopeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> TrashList:
    return await run_in_threadpool(services.trash.list, scope, limit)


@router.post(
    "/images/{image_id}/restore",
    name="restore_image",
    response_model=ImageSummary,
    responses=problems(403, 404),
    response_model_by_alias=True,
    summary="Bring an item back from the trash",
)
async def restore(image_id: UUID, services: ServicesDep, scope: ScopeDep) -> ImageSummary:
    return await run_in_threadpool(services.trash.restore, str(image_id), scope)


@router.get(
    "/trash/{image_id}/thumb",
    name="get_trash_thumbnail",
    response_class=FileResponse,
    summary="The thumbnail of an item in the trash",
    responses={200: {"content": {"image/jpeg": {}}}, **problems(403, 404, 415)},
)
async def trash_thumb(image_id: UUID, request: Request, services: ServicesDep, scope: ScopeDep) -> Response:
    original = await run_in_threadpool(services.trash.file_path, str(image_id), scope)
    try:
        path = await run_in_threadpool(services.thumbs.get, str(image_id), original, services.settings.MAX_IMAGE_PIXELS)
    except (OSError, ValueError) as e:
        raise UnsupportedMediaError(f"cannot make a thumbnail of {original.name}: {e}") from e
    return file_response(request, path, "image/jpeg")


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
    library: KnownLibraryDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 24,
) -> SearchResult:
    result = await run_in_threadpool(text_search, searcher, query, limit, library, scope)
    result.request_id = getattr(request.state, "request_id", None)
    return result
