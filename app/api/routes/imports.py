from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import Field, ValidationError
from starlette.datastructures import UploadFile

from app.api.bodies import invalid_input, read_upload
from app.api.deps import ServicesDep
from app.errors import ConflictError, InvalidInputError
from app.jobs import JobView
from app.library.imports import ImportService
from app.search.models import CamelModel

router = APIRouter(prefix="/libraries", tags=["imports"])


class ImportRequest(CamelModel):
    folder: str | None = Field(default=None, description="A server-side folder under one of IMPORT_ROOTS.")
    urls: list[str] = Field(default_factory=list, description="http(s) URLs of images, fetched SSRF-safely.")
    tags: list[str] = Field(default_factory=list, description="Tags given to every imported image.")


def _service(services: Any) -> ImportService:
    if services.imports is None:
        raise ConflictError("imports are not available in this process.")
    svc: ImportService = services.imports
    return svc


@router.post(
    "/{library}/imports",
    status_code=202,
    response_model=JobView,
    response_model_by_alias=True,
    summary="Import images into a library as a job: files/ZIPs (multipart), a folder or URLs (JSON)",
    responses={202: {"description": "Queued; poll the `Location` header (/jobs/{id})."}},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ImportRequest"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                            "tags": {"type": "string", "description": "JSON list or comma-separated"},
                        },
                    }
                },
            }
        }
    },
)
async def create_import(
    library: str,
    request: Request,
    response: Response,
    services: ServicesDep,
    idempotency_key: str | None = Header(default=None, max_length=200),
) -> JobView:
    svc = _service(services)
    limit = services.settings.ZIP_MAX_TOTAL_BYTES
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await request.form(max_part_size=limit)
        files = [
            (f.filename or "upload", await read_upload(f, limit, "files"))
            for f in form.getlist("files")
            if isinstance(f, UploadFile)
        ]
        raw_tags = form.get("tags")
        tags = _tags(raw_tags if isinstance(raw_tags, str) else "")
        job = await svc.submit_files(library, files, tags, idempotency_key)
    else:
        try:
            body = ImportRequest.model_validate_json(await request.body() or b"{}")
        except ValidationError as e:
            raise invalid_input(e) from e
        if bool(body.folder) == bool(body.urls):
            raise InvalidInputError("send exactly one of `folder` or `urls` (or files as multipart).")
        if body.folder:
            job = await svc.submit_folder(library, body.folder, body.tags, idempotency_key)
        else:
            job = await svc.submit_urls(library, body.urls, body.tags, idempotency_key)
    response.headers["Location"] = f"/jobs/{job.id}"
    view: JobView = job.view()
    return view


def _tags(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"`tags` is malformed JSON: {e}") from e
        return [str(t) for t in value]
    return [t.strip() for t in raw.split(",") if t.strip()]
