"""POST /images/generate (JSON or multipart), GET /generated/{name}, POST /images/describe.

Routers only translate HTTP: the body becomes a `GenerateRequest` (+ uploaded files) and
`GenerationService.submit` does the rest.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from app.api.deps import LibraryResolverDep, ScopeDep
from app.api.openapi import problems
from app.api.security import PrincipalDep
from app.errors import InvalidInputError, PayloadTooLargeError
from app.generation.models import DescribeRequest, DescribeResponse, GenerateRequest
from app.generation.service import GenerationService, Upload
from app.jobs.base import JobView

router = APIRouter(tags=["generation"])

MAX_FORM_FIELDS = 64


def get_generation(request: Request) -> GenerationService:
    generation: GenerationService = request.app.state.services.generation
    return generation


GenerationDep = Annotated[GenerationService, Depends(get_generation)]


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` inlined (OpenAPI resolves refs globally)."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_GENERATE_SCHEMA = _inline_schema(GenerateRequest)
_MULTIPART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{
            k: ({"type": "string", "description": "JSON-encoded"} if k == "refs" else v)
            for k, v in _GENERATE_SCHEMA["properties"].items()
            if k != "sketch"
        },
        "sketch": {"type": "string", "format": "binary"},
        "refUploads": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
        },
    },
}


async def _read_body(
    request: Request, max_bytes: int, max_files: int, files: tuple[str, ...] = ("refUploads",)
) -> tuple[dict[str, Any], list[Upload], Upload | None]:
    """JSON or multipart → (fields, uploads in the `files` fields, the `sketch` file)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        try:
            body = await request.json()
        except ValueError as e:
            raise InvalidInputError(f"The body is not valid JSON: {e}") from e
        if not isinstance(body, dict):
            raise InvalidInputError("The body must be a JSON object.")
        return body, [], None
    form = await request.form(max_files=max_files, max_fields=MAX_FORM_FIELDS)
    fields: dict[str, Any] = {}
    uploads: list[Upload] = []
    sketch: Upload | None = None
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if value.size is not None and value.size > max_bytes:
                raise PayloadTooLargeError(
                    f"`{key}` is {value.size} bytes; the limit is {max_bytes} (MAX_UPLOAD_BYTES).",
                    field=key,
                    limit=max_bytes,
                )
            upload = Upload(await value.read(), value.filename or key)
            if key == "sketch" and "refUploads" in files:
                sketch = upload
            elif key in files:
                uploads.append(upload)
            else:
                raise InvalidInputError(f"Unexpected file field `{key}`.", field=key)
        elif key == "refs":
            try:
                fields[key] = json.loads(value)
            except ValueError as e:
                raise InvalidInputError(f"`refs` is not valid JSON: {e}", field="refs") from e
        else:
            fields[key] = value
    return fields, uploads, sketch


@router.post(
    "/images/generate",
    name="generate_images",
    status_code=202,
    response_model=JobView,
    response_model_by_alias=True,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _GENERATE_SCHEMA},
                "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
            },
        }
    },
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
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> JobView:
    """Queue a generation from a prompt, role-weighted references and an optional sketch."""
    settings = generation.settings
    body, uploads, sketch = await _read_body(request, settings.MAX_UPLOAD_BYTES, settings.GENERATION_MAX_REFS + 1)
    try:
        generate_request = GenerateRequest.model_validate(body)
    except ValidationError as e:
        raise RequestValidationError(e.errors()) from e
    if generate_request.add_to_library:  # into a library the key may write (app/library/access.py)
        generate_request.library = scope.write_target(generate_request.library)
    job = await generation.submit(
        generate_request,
        uploads=uploads,
        sketch_upload=sketch,
        idempotency_key=scope.principal.idempotency_key(idempotency_key),
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
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


_DESCRIBE_SCHEMA = _inline_schema(DescribeRequest)


@router.post(
    "/images/describe",
    name="describe_image",
    response_model=DescribeResponse,
    responses=problems(403, 404, 413, 415, 503),
    response_model_by_alias=True,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _DESCRIBE_SCHEMA},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "image": {"type": "string", "format": "binary"},
                            "prompt": {"type": "string"},
                        },
                    }
                },
            },
        }
    },
)
async def describe(request: Request, generation: GenerationDep, resolve: LibraryResolverDep) -> DescribeResponse:
    """Caption an image (an `image` file, a data URL, or a library `id`)."""
    body, uploads, _ = await _read_body(request, generation.settings.MAX_UPLOAD_BYTES, 1, files=("image",))
    try:
        describe_request = DescribeRequest.model_validate(body)
    except ValidationError as e:
        raise RequestValidationError(e.errors()) from e
    return await generation.describe(describe_request, uploads[0] if uploads else None, resolve)
