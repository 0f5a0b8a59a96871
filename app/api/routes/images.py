from __future__ import annotations

from pathlib import Path
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import ImageSlotsDep, LibrariesDep, ScopeDep, ServicesDep
from app.api.openapi import NOT_MODIFIED, problems
from app.errors import UnsupportedMediaError

router = APIRouter(tags=["images"])
CACHE = "public, max-age=86400"
# Behind API keys an image is for the key that asked (private libraries): no shared cache keeps it.
CACHE_KEYED = "private, max-age=86400"
# Served files are user uploads: a browser must take them as the type we name, never sniff
# an "image" into HTML or script.
NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def file_response(request: Request, path: Path, media_type: str | None = None) -> Response:
    # FileResponse answers Range requests and computes ETag / Last-Modified; a client that
    # already holds this version gets 304 and no body.
    cache = CACHE if getattr(request.state, "key_scope", None) is None else CACHE_KEYED
    # (HEAD: FileResponse sends the headers of the GET and no body.)
    headers = {"Cache-Control": cache, **NOSNIFF}
    response = FileResponse(path, media_type=media_type, headers=headers, stat_result=path.stat())
    if request.headers.get("if-none-match") == response.headers.get("etag"):
        return Response(status_code=304, headers={"ETag": response.headers["etag"], **headers})
    return response


# HEAD answers as GET does, without the body (caches, link checkers, `curl -I`); it stays out
# of the schema, which documents the GET.
@router.head("/image/{image_id}", include_in_schema=False)
@router.get(
    "/image/{image_id}",
    name="get_image",
    response_class=FileResponse,
    summary="The original image file",
    responses={**NOT_MODIFIED, **problems(403, 404)},
)
async def image(image_id: UUID, request: Request, libraries: LibrariesDep, scope: ScopeDep) -> Response:
    path = await run_in_threadpool(libraries.image_path, str(image_id), scope)
    return file_response(request, path)


@router.head("/thumb/{image_id}", include_in_schema=False)
@router.get(
    "/thumb/{image_id}",
    name="get_thumbnail",
    response_class=FileResponse,
    summary="A cached JPEG thumbnail",
    responses={200: {"content": {"image/jpeg": {}}}, **NOT_MODIFIED, **problems(403, 404, 415, 503)},
)
async def thumb(
    image_id: UUID,
    request: Request,
    services: ServicesDep,
    libraries: LibrariesDep,
    scope: ScopeDep,
    slots: ImageSlotsDep,
) -> Response:
    original = await run_in_threadpool(libraries.image_path, str(image_id), scope)
    path = await run_in_threadpool(services.thumbs.cached, str(image_id), original)
    if path is None:
        # Making one decodes the original whole (a PNG has no reduced decode): an image slot
        # bounds how many decode at once, as for uploads (IMAGE_SLOTS).
        async with slots.hold():
            try:
                path = await run_in_threadpool(
                    services.thumbs.get, str(image_id), original, services.settings.MAX_IMAGE_PIXELS
                )
            except (OSError, ValueError) as e:
                raise UnsupportedMediaError(f"cannot make a thumbnail of {original.name}: {e}") from e
    return file_response(request, path, "image/jpeg")
