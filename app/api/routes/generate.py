"""POST /images/generate (JSON or multipart), GET /generated/{name}, POST /images/describe.

Routers only translate HTTP: the body becomes a `GenerateRequest` (+ uploaded files) and
`GenerationService.submit` does the rest.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import FileResponse

from app.api.bodies import FileField, UploadedFile, body_openapi, read_body
from app.api.deps import GenerationDep, ImageSlotsDep, LibraryResolverDep, ScopeDep
from app.api.idempotency import idempotency_key as bound_key
from app.api.openapi import problems
from app.api.routes.images import NOSNIFF
from app.api.security import PrincipalDep
from app.generation.models import DescribeRequest, DescribeResponse, GenerateRequest
from app.generation.service import Upload
from app.jobs.base import JobView

router = APIRouter(tags=["generation"])

MAX_FORM_FIELDS = 64


# Files in multipart; in JSON the sketch is a data URL and each ref names its picture.
GENERATE_FILES = (
    FileField("sketch", "A drawing to follow (PNG/JPEG/WebP)."),
    FileField("refUploads", "Reference pictures; a ref names one by `upload` (its index).", many=True),
    FileField("baseImage", "The picture to edit or start from (instead of the `baseImage` field)."),
    FileField("mask", "White = edit, black = keep; the base's aspect (instead of the `mask` field)."),
)
DESCRIBE_FILES = (FileField("image", "The picture to caption."),)


def _uploads(files: list[UploadedFile] | None) -> list[Upload]:
    return [Upload(f.bytes(), f.filename) for f in files or ()]


@router.post(
    "/images/generate",
    name="generate_images",
    status_code=202,
    response_model=JobView,
    response_model_by_alias=True,
    openapi_extra=body_openapi(GenerateRequest, GENERATE_FILES),
    responses={
        202: {"description": "Queued; poll the `Location` header (/jobs/{id})."},
        **problems(403, 404, 409, 413, 415, 429, 503),
    },
)
async def generate(
    request: Request,
    response: Response,
    generation: GenerationDep,
    scope: ScopeDep,
    resolve: LibraryResolverDep,
    slots: ImageSlotsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> JobView:
    """Queue a generation from a prompt, role-weighted references and an optional sketch, or an
    edit of a `baseImage` (img2img at `strength`, or under a `mask`: white = edit)."""
    settings = generation.settings
    body = await read_body(
        request,
        GenerateRequest,
        GENERATE_FILES,
        max_bytes=settings.MAX_UPLOAD_BYTES,
        max_files=settings.GENERATION_MAX_REFS + 3,  # + sketch, baseImage, mask
        max_fields=MAX_FORM_FIELDS,
    )
    generate_request = body.model
    if generate_request.add_to_library:  # into a library the key may write (app/library/access.py)
        generate_request.library = scope.write_target(generate_request.library)
    # Refs and sketches are decoded (and stored) at submit time: one image slot for them all.
    images = bool(
        body.files
        or generate_request.sketch
        or generate_request.refs
        or generate_request.base_image
        or generate_request.mask
    )
    async with slots.hold() if images else contextlib.nullcontext():
        job = await generation.submit(
            generate_request,
            uploads=_uploads(body.files.get("refUploads")),
            sketch_upload=next(iter(_uploads(body.files.get("sketch"))), None),
            base_upload=next(iter(_uploads(body.files.get("baseImage"))), None),
            mask_upload=next(iter(_uploads(body.files.get("mask"))), None),
            idempotency_key=await bound_key(idempotency_key, scope.principal, request, body),
            resolve_library_image=resolve,
            owner=scope.principal.owner,
        )
    response.headers["Location"] = f"/jobs/{job.id}"
    return job.view()


@router.get(
    "/generated/{name}",
    name="get_generated_file",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "application/json": {}}}, **problems(404)},
)
async def generated_file(name: str, generation: GenerationDep, principal: PrincipalDep) -> FileResponse:
    """A generated image (`.png`) or its parameters sidecar (`.json`); only its owner's keys
    (and operator keys) see another tenant's results."""
    path = generation.generated_file(name, principal.may_see)
    media = "application/json" if path.suffix == ".json" else "image/png"
    return FileResponse(
        path,
        media_type=media,
        headers={"Cache-Control": "public, max-age=31536000, immutable", **NOSNIFF},
    )


@router.post(
    "/images/describe",
    name="describe_image",
    response_model=DescribeResponse,
    responses=problems(403, 404, 413, 415, 503),
    response_model_by_alias=True,
    openapi_extra=body_openapi(DescribeRequest, DESCRIBE_FILES),
)
async def describe(
    request: Request, generation: GenerationDep, resolve: LibraryResolverDep, slots: ImageSlotsDep
) -> DescribeResponse:
    """Caption an image (an `image` file, a data URL, or a library `id`)."""
    body = await read_body(
        request, DescribeRequest, DESCRIBE_FILES, max_bytes=generation.settings.MAX_UPLOAD_BYTES, max_files=1
    )
    image = body.file("image")
    async with slots.hold():  # the decoded picture lives until its caption is made
        return await generation.describe(body.model, Upload(image.bytes(), image.filename) if image else None, resolve)
