"""POST /stories (image → story job), GET /stories?query= (the story index), POST /storyboards
(story → frames job).

Routers only translate HTTP: app/stories/service.py does the work.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from app.api.bodies import FileField, body_openapi, read_body
from app.api.deps import ImageSlotsDep, LibraryResolverDep, ScopeDep, StoriesDep, StoryboardsDep
from app.api.idempotency import idempotency_key as bound_key
from app.api.openapi import problems
from app.jobs.base import JobView
from app.stories.index import MAX_QUERY_CHARS
from app.stories.models import StoryboardRequest, StoryRequest, StorySearchResult

router = APIRouter(tags=["stories"])

STORY_FILES = (FileField("image", "The picture to tell a story about (PNG/JPEG/WebP)."),)
MAX_STORY_HITS = 50
# A story as fields or text (20 000 characters) with room for JSON's escaping.
MAX_STORYBOARD_BODY = 256 * 1024


@router.post(
    "/stories",
    name="create_story",
    status_code=202,
    response_model=JobView,
    response_model_by_alias=True,
    openapi_extra=body_openapi(StoryRequest, STORY_FILES),
    responses={
        202: {"description": "Queued; poll the `Location` header (/jobs/{id}); the result is a StoryResult."},
        **problems(403, 404, 413, 415, 429, 503),
    },
)
async def create_story(
    request: Request,
    response: Response,
    stories: StoriesDep,
    scope: ScopeDep,
    resolve: LibraryResolverDep,
    slots: ImageSlotsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> JobView:
    """Queue a story about a picture (an `image` file, a data URL, or a library `id`)."""
    body = await read_body(request, StoryRequest, STORY_FILES, max_bytes=stories.settings.MAX_UPLOAD_BYTES, max_files=1)
    story_request = body.model
    story_request.library = scope.write_target(story_request.library)
    image = body.file("image")
    async with slots.hold():  # the picture is decoded and stored at submit time
        job = await stories.submit(
            story_request,
            upload=image.bytes() if image else None,
            resolve_library_image=resolve,
            owner=scope.principal.owner,
            idempotency_key=await bound_key(idempotency_key, scope.principal, request, body),
        )
    response.headers["Location"] = f"/jobs/{job.id}"
    return job.view()


@router.get(
    "/stories",
    name="search_stories",
    response_model=StorySearchResult,
    response_model_by_alias=True,
    responses=problems(503),
)
async def search_stories(
    stories: StoriesDep,
    scope: ScopeDep,
    query: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
    limit: Annotated[int, Query(ge=1, le=MAX_STORY_HITS)] = 10,
) -> StorySearchResult:
    """Stories nearest to `query` among those the key may read."""
    hits = await stories.search(query, limit, scope.read_filter())
    return StorySearchResult(query=query, hits=hits)


@router.post(
    "/storyboards",
    name="create_storyboard",
    status_code=202,
    response_model=JobView,
    response_model_by_alias=True,
    openapi_extra=body_openapi(StoryboardRequest),
    responses={
        202: {"description": "Queued; poll the `Location` header (/jobs/{id}); the result is a StoryboardResult."},
        **problems(403, 404, 409, 413, 429, 503),
    },
)
async def create_storyboard(
    request: Request,
    response: Response,
    storyboards: StoryboardsDep,
    scope: ScopeDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> JobView:
    """Queue a storyboard: a story (fields, plain text, or a story id) → frames, each grounded on
    the earlier frames, the owner's generations and the library (`retrieval`)."""
    body = await read_body(request, StoryboardRequest, max_bytes=MAX_STORYBOARD_BODY)
    board = body.model
    if board.add_to_library:
        board.library = scope.write_target(board.library)
    job = await storyboards.submit(
        board,
        owner=scope.principal.owner,
        readable=sorted(scope.readable) if scope.readable is not None else None,
        may_read=scope.may_read,
        idempotency_key=await bound_key(idempotency_key, scope.principal, request, body),
    )
    response.headers["Location"] = f"/jobs/{job.id}"
    return job.view()
