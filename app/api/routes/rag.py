"""Cross-modal RAG: POST /search/decompose and POST /search/complementary.

Routers only translate HTTP; app/search/complementary.py does the work. The searcher is
built on first use from the running services and kept on `app.state`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from app.api.deps import ScopeDep, ServicesDep
from app.api.openapi import problems
from app.search.complementary import ComplementarySearcher, to_model
from app.search.complementary_models import (
    ComplementaryQuery,
    ComplementaryResult,
    DecomposeRequest,
    DecomposeResponse,
)

router = APIRouter(prefix="/search", tags=["search"])


def get_complementary(request: Request, services: ServicesDep) -> ComplementarySearcher:
    searcher: ComplementarySearcher | None = getattr(request.app.state, "complementary", None)
    if searcher is None or searcher.store is not services.store:
        searcher = ComplementarySearcher(services.encoders, services.store, services.settings)
        request.app.state.complementary = searcher
    searcher.unusable = services.searcher.unusable
    return searcher


ComplementaryDep = Annotated[ComplementarySearcher, Depends(get_complementary)]


@router.post(
    "/decompose",
    name="decompose_prompt",
    response_model=DecomposeResponse,
    response_model_by_alias=True,
    summary="Split a prompt into sub-queries: subjects and objects with their modifiers, style, setting",
)
async def decompose(request: Request, body: DecomposeRequest, searcher: ComplementaryDep) -> DecomposeResponse:
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
    responses=problems(404, 409),
    response_model_by_alias=True,
    summary="A small set of references that together cover every sub-query (Pareto-optimal)",
)
async def complementary(
    request: Request, body: ComplementaryQuery, searcher: ComplementaryDep, scope: ScopeDep
) -> ComplementaryResult:
    result = await run_in_threadpool(searcher.search, body, scope.read_filter())
    result.request_id = request.state.request_id
    return result
