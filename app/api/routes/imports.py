from __future__ import annotations

import json
from typing import BinaryIO

from fastapi import APIRouter, Header, Request, Response
from pydantic import Field, ValidationError
from starlette.datastructures import UploadFile

from app.api.bodies import invalid_input, read_upload
from app.api.deps import ImportsDep, ScopeDep
from app.errors import InvalidInputError
from app.jobs import JobView
from app.library.imports import ImportOptions
from app.search.models import CamelModel

router = APIRouter(prefix="/libraries", tags=["imports"])


class ImportRequest(CamelModel):
    folder: str | None = Field(default=None, description="A server-side folder under one of IMPORT_ROOTS.")
    urls: list[str] = Field(default_factory=list, description="http(s) URLs of images, fetched SSRF-safely.")
    tags: list[str] = Field(default_factory=list, description="Tags given to every imported image.")
    skip_near_duplicates: bool = Field(
        default=False,
        description="Leave out images whose picture is within `nearDuplicateThreshold` of one already in the "
        "library (image-view cosine); each is listed in the result's `nearDuplicates` with the id it duplicates.",
    )
    near_duplicate_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Cosine at or above which an image is a near duplicate (default: DUPLICATE_THRESHOLD).",
    )


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
                            "skipNearDuplicates": {"type": "boolean", "default": False},
                            "nearDuplicateThreshold": {"type": "number", "minimum": 0, "maximum": 1},
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
    svc: ImportsDep,
    scope: ScopeDep,
    idempotency_key: str | None = Header(default=None, max_length=200),
) -> JobView:
    # Only into a library the key owns (operators: any); keys are per caller (app/library/access.py).
    library = scope.check_write(library)
    idempotency_key = scope.principal.idempotency_key(idempotency_key)
    limit = svc.settings.ZIP_MAX_TOTAL_BYTES
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await request.form(max_part_size=limit)
        # A ZIP goes to the service as the parser's spooled file (on disk past 1 MiB), so
        # memory never holds an archive; images are read whole (the pipeline needs the bytes).
        files: list[tuple[str, bytes | BinaryIO]] = [
            (name, f.file if name.lower().endswith(".zip") else await read_upload(f, limit, "files"))
            for f in form.getlist("files")
            if isinstance(f, UploadFile)
            for name in [f.filename or "upload"]
        ]
        raw_tags = form.get("tags")
        how = ImportOptions(
            library,
            _tags(raw_tags if isinstance(raw_tags, str) else ""),
            idempotency_key,
            scope.principal.owner,
            skip_near_duplicates=_flag(form.get("skipNearDuplicates"), "skipNearDuplicates"),
            near_duplicate_threshold=_number(form.get("nearDuplicateThreshold"), "nearDuplicateThreshold"),
        )
        job = await svc.submit_files(how, files)
    else:
        try:
            body = ImportRequest.model_validate_json(await request.body() or b"{}")
        except ValidationError as e:
            raise invalid_input(e) from e
        if bool(body.folder) == bool(body.urls):
            raise InvalidInputError("send exactly one of `folder` or `urls` (or files as multipart).")
        how = ImportOptions(
            library,
            body.tags,
            idempotency_key,
            scope.principal.owner,
            skip_near_duplicates=body.skip_near_duplicates,
            near_duplicate_threshold=body.near_duplicate_threshold,
        )
        job = await (svc.submit_folder(how, body.folder) if body.folder else svc.submit_urls(how, body.urls))
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


def _flag(raw: object, name: str) -> bool:
    if raw is None or raw == "":
        return False
    value = str(raw).strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise InvalidInputError(f"`{name}` must be true or false but is {raw!r}.", field=name)


def _number(raw: object, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        return float(str(raw))
    except ValueError:
        raise InvalidInputError(f"`{name}` must be a number but is {raw!r}.", field=name) from None
