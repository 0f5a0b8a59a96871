"""POST /stories (image → story job), GET /stories?query= (the story index).

Routers only translate HTTP: app/stories/service.py does the work.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from app.api.bodies import FileField, body_openapi, read_body
from app.api.deps import ImageSlotsDep, LibraryResolverDep, ScopeDep, StoriesDep
from app.api.idempotency import idempotency_key as bound_key
from app.api.openapi import problems
from app.jobs.base import JobView
from app.stories.index import MAX_QUERY_CHARS
from app.stories.models import StoryRequest, StorySearchResult

router = APIRouter(tags=["stories"])

STORY_FILES = (FileField("image", "The picture to tell a story about (PNG/JPEG/WebP)."),)
MAX_STORY_HITS = 50


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
