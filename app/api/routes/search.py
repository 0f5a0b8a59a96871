from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.api.bodies import parse_body
from app.api.deps import ScopeDep, ServicesDep
from app.api.metrics import observe_search
from app.api.openapi import problems
from app.search.hybrid import QueryInputs
from app.search.models import HybridQuery, SearchResult

router = APIRouter(prefix="/search", tags=["search"])

_MULTIPART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sketch": {"type": "string", "format": "binary", "description": "A drawing (PNG/JPEG/WebP)."},
        "image": {"type": "string", "format": "binary", "description": "An example picture."},
        **{
            name: {"type": "string", "description": "as in the JSON body; objects and arrays JSON-encoded"}
            for name in (
                "queryText",
                "negativeText",
                "wImg",
                "wEdge",
                "wTxt",
                "wShape",
                "wTags",
                "limit",
                "offset",
                "cursor",
                "filter",
                "scoreThreshold",
                "rerank",
                "positiveIds",
                "negativeIds",
            )
        },
    },
}


@router.post(
    "/hybrid",
    name="search_hybrid",
    response_model=SearchResult,
    responses=problems(404, 409, 413, 415),
    response_model_by_alias=True,
    summary="Search by sketch, text and example image with per-view weights",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HybridQuery"}},
                "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
            },
        }
    },
)
async def hybrid(request: Request, services: ServicesDep, scope: ScopeDep) -> SearchResult:
    started = time.perf_counter()
    query, images = await parse_body(request, HybridQuery, ("sketch", "image"), services.settings)
    decoded = time.perf_counter()
    inputs = QueryInputs(query.query_text, query.negative_text, images.get("sketch"), images.get("image"))
    # The encoders and the store block: run them off the event loop.
    result = await run_in_threadpool(services.searcher.search, query, inputs, scope.read_filter())
    result.request_id = request.state.request_id
    result.timings.decode_ms = round((decoded - started) * 1000, 2)
    observe_search(request, result.timings)
    return result
