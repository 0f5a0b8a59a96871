from __future__ import annotations

import contextlib
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.api.bodies import FileField, body_openapi, decode_images, has_images, read_body
from app.api.deps import ImageSlotsDep, ProfilesDep, ScopeDep, SearcherDep
from app.api.metrics import observe_search
from app.api.openapi import problems
from app.api.routes.compat import SeedSearch, seed_search_answer
from app.library.profiles import personalize
from app.search.hybrid import QueryInputs
from app.search.models import HybridQuery, SearchResult

router = APIRouter(prefix="/search", tags=["search"])

# The images: files in multipart, data URLs in the JSON fields of the same names.
FILES = (
    FileField("sketch", "A drawing (PNG/JPEG/WebP)."),
    FileField("image", "An example picture."),
)


@router.post(
    "/hybrid",
    name="search_hybrid",
    response_model=SearchResult,
    responses=problems(404, 409, 413, 415, 503),
    response_model_by_alias=True,
    summary="Search by sketch, text and example image with per-view weights",
    openapi_extra=body_openapi(HybridQuery, FILES),
)
async def hybrid(
    request: Request, searcher: SearcherDep, scope: ScopeDep, slots: ImageSlotsDep, profiles: ProfilesDep
) -> SearchResult | JSONResponse:
    started = time.perf_counter()
    settings = searcher.settings
    # The original client's form (snake_case, extra fields) is read too: app/api/routes/compat.py.
    seed = SeedSearch()
    body = await read_body(
        request,
        HybridQuery,
        FILES,
        max_bytes=settings.MAX_UPLOAD_BYTES,
        max_json_bytes=settings.MAX_UPLOAD_BYTES * 2,
        adapt=seed.adapt,
    )
    names = [f.name for f in FILES]
    # Decoded images live until their encode is done: one slot holds both (IMAGE_SLOTS).
    async with slots.hold() if has_images(body, names) else contextlib.nullcontext():
        query, images = body.model, await decode_images(body, names, settings)
        decoded = time.perf_counter()
        inputs = QueryInputs(query.query_text, query.negative_text, images.get("sketch"), images.get("image"))
        # The encoders and the store block: run them off the event loop.
        result = await run_in_threadpool(searcher.search, query, inputs, scope.read_filter())
        del images, inputs
    if query.personalize:  # off by default: the owner's feedback re-ranks the page (bounded)
        affinities = await run_in_threadpool(profiles.affinities, scope.principal.owner)
        result = personalize(result, affinities, settings.PROFILE_MAX_BOOST)
    result.request_id = request.state.request_id
    result.timings.decode_ms = round((decoded - started) * 1000, 2)
    observe_search(request, result.timings)
    return seed_search_answer(result) if seed.used else result
