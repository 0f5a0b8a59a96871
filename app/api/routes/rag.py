"""Cross-modal RAG: POST /search/decompose and POST /search/complementary.

Routers only translate HTTP; app/search/complementary.py does the work. The searcher is
built once with the other services (app/services.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.api.deps import ComplementaryDep, DecomposerDep, ScopeDep
from app.api.openapi import problems
from app.search.complementary import to_model
from app.search.complementary_models import (
    ComplementaryQuery,
    ComplementaryResult,
    DecomposeRequest,
    DecomposeResponse,
)

router = APIRouter(prefix="/search", tags=["search"])


@router.post(
    "/decompose",
    name="decompose_prompt",
    response_model=DecomposeResponse,
    response_model_by_alias=True,
    summary="Split a prompt into sub-queries: subjects and objects with their modifiers, style, setting",
)
async def decompose(request: Request, body: DecomposeRequest, searcher: DecomposerDep) -> DecomposeResponse:
    subs = await run_in_threadpool(searcher.decompose, body.prompt)
    return DecomposeResponse(
        request_id=request.state.request_id,
        prompt=body.prompt,
        sub_queries=[to_model(s) for s in subs],
        parser="parser" if searcher.decomposer.parser else "rules",
    )


@router.post(
    "/complementary",
    name="search_complementary",
    response_model=ComplementaryResult,
    responses=problems(404, 409, 503),  # 503: the encoders' queue is full (ENCODE_QUEUE_MAX)
    response_model_by_alias=True,
    summary="A small set of references that together cover every sub-query (Pareto-optimal)",
)
async def complementary(
    request: Request, body: ComplementaryQuery, searcher: ComplementaryDep, scope: ScopeDep
) -> ComplementaryResult:
    result = await run_in_threadpool(searcher.search, body, scope.read_filter())
    result.request_id = request.state.request_id
    return result
