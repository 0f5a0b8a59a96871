"""POST /atlas (a page of results packed in one image) and GET /atlas/{token}/{page}."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from app.api.deps import ScopeDep, ServicesDep
from app.api.openapi import NOT_MODIFIED, problems
from app.api.routes.images import file_response
from app.api.security import PrincipalDep
from app.errors import PayloadTooLargeError
from app.library.atlas import AtlasFiles, build_for_caller, check_cell
from app.models import CamelModel
from app.services import Services

router = APIRouter(tags=["images"])


class AtlasRequest(CamelModel):
    ids: list[UUID] = Field(min_length=1, description="Library image ids, in the order to pack (e.g. a page of hits).")
    cell: int | None = Field(
        default=None, description="Side of each square cell in pixels: a multiple of 16 up to THUMB_SIZE (default)."
    )

    model_config = {"json_schema_extra": {"examples": [{"ids": ["6f1c1a52-5a43-5e0e-9a49-0d6d8b3b1f7e"], "cell": 128}]}}


class AtlasSprite(CamelModel):
    page: int
    x: int
    y: int
    w: int
    h: int


class AtlasPage(CamelModel):
    url: str
    width: int
    height: int


class AtlasResponse(CamelModel):
    cell: int
    padding: int = Field(description="Margin inside each cell around its sprite, pixels.")
    pages: list[AtlasPage]
    sprites: dict[str, AtlasSprite] = Field(description="Each placed id: its thumbnail's rectangle in its page.")
    missing: list[str] = Field(description="Ids not placed (unknown, not readable with this key, unreadable file).")


def _files(services: Services) -> AtlasFiles:
    s = services.settings
    return AtlasFiles(Path(s.THUMBS_ROOT) / "atlas", s.ATLAS_TTL_S)


@router.post(
    "/atlas",
    response_model=AtlasResponse,
    responses=problems(413),
    summary="Thumbnails of many images packed in one picture, with where each one lies",
)
async def create_atlas(body: AtlasRequest, services: ServicesDep, scope: ScopeDep) -> AtlasResponse:
    """One image request instead of one per thumbnail: the grid draws each hit from its
    rectangle of a page (`sprites`), and the ones in `missing` one by one."""
    s = services.settings
    if len(body.ids) > s.ATLAS_MAX_IDS:
        raise PayloadTooLargeError(
            f"`ids` lists {len(body.ids)} images; the limit is {s.ATLAS_MAX_IDS} (ATLAS_MAX_IDS).",
            limit=s.ATLAS_MAX_IDS,
        )
    cell = check_cell(body.cell, s.THUMB_SIZE)
    manifest = await run_in_threadpool(
        build_for_caller,
        [str(i) for i in body.ids],
        cell,
        store=services.store,
        thumbs=services.thumbs,
        images_root=Path(s.IMAGES_ROOT),
        max_pixels=s.MAX_IMAGE_PIXELS,
        files=_files(services),
        readable=scope.may_read,
        owner=scope.principal.owner,
    )
    return AtlasResponse.model_validate(manifest)


@router.get(
    "/atlas/{token}/{name}",
    name="get_atlas_page",
    response_class=FileResponse,
    summary="A page of an atlas made by POST /atlas",
    responses={200: {"content": {"image/jpeg": {}}}, **NOT_MODIFIED, **problems(404)},
)
async def atlas_page(
    token: str, name: str, request: Request, services: ServicesDep, principal: PrincipalDep
) -> Response:
    path = await run_in_threadpool(_files(services).page, token, name, principal.may_see)
    return file_response(request, path, "image/jpeg")
