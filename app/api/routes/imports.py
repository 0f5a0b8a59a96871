from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, field_validator

from app.api.bodies import FileField, body_openapi, read_body
from app.api.deps import ImportsDep, LibrariesDep, ScopeDep
from app.api.idempotency import idempotency_key as bound_key
from app.api.openapi import problems
from app.errors import InvalidInputError
from app.jobs import JobView
from app.library.imports import ImportOptions
from app.library.models import MAX_TAGS, Tag
from app.models import CamelModel

router = APIRouter(prefix="/libraries", tags=["imports"])


class ImportRequest(CamelModel):
    # No NUL byte: no path holds one (and the OS refuses it in a path with a ValueError).
    folder: str | None = Field(
        default=None, pattern=r"^[^\x00]*$", description="A server-side folder under one of IMPORT_ROOTS."
    )
    urls: list[str] = Field(default_factory=list, description="http(s) URLs of images, fetched SSRF-safely.")
    tags: list[Tag] = Field(
        default_factory=list,
        max_length=MAX_TAGS,
        description="Tags given to every imported image (a list, or one comma-separated string).",
    )
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

    @field_validator("tags", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # HTML forms and `curl -F tags=a,b` send one string.
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return value


# Files and ZIPs, in multipart; a folder or URLs come in the model's own fields.
# A ZIP stays in the form parser's spooled file, so memory never holds an archive; images are
# read whole (the pipeline needs the bytes).
FILES = (FileField("files", "Images and ZIP archives of images.", many=True, spooled=(".zip",)),)


@router.post(
    "/{library}/imports",
    status_code=202,
    response_model=JobView,
    response_model_by_alias=True,
    summary="Import images into a library as a job: files/ZIPs (multipart), a folder or URLs (JSON)",
    responses={
        202: {"description": "Queued; poll the `Location` header (/jobs/{id})."},
        **problems(403, 404, 409, 413, 415, 429),
    },
    openapi_extra=body_openapi(ImportRequest, FILES, required=False),
)
async def create_import(
    library: str,
    request: Request,
    response: Response,
    svc: ImportsDep,
    libraries: LibrariesDep,
    scope: ScopeDep,
    idempotency_key: str | None = Header(default=None, max_length=200),
) -> JobView:
    # Only into a library the key owns (operators: any); keys are per caller (app/library/access.py).
    scope.check_write(library)
    multipart = request.headers.get("content-type", "").split(";")[0].strip().lower() == "multipart/form-data"
    body = await read_body(
        request, ImportRequest, FILES, max_bytes=svc.settings.ZIP_MAX_TOTAL_BYTES, setting="ZIP_MAX_TOTAL_BYTES"
    )
    options = body.model
    how = ImportOptions(
        library,
        options.tags,
        await bound_key(idempotency_key, scope.principal, request, body),
        scope.principal.owner,
        skip_near_duplicates=options.skip_near_duplicates,
        near_duplicate_threshold=options.near_duplicate_threshold,
    )
    if multipart:  # files and ZIPs (the service says so when there are none)
        files = [(f.filename, f.data) for f in body.files.get("files", [])]
        job = await svc.submit_files(how, files)
    elif bool(options.folder) == bool(options.urls):
        raise InvalidInputError("send exactly one of `folder` or `urls` (or files as multipart).")
    elif options.folder:
        job = await svc.submit_folder(how, options.folder)
    else:
        job = await svc.submit_urls(how, options.urls)
    # Queued, so the request was good: an operator's first import into a library registers it.
    await run_in_threadpool(libraries.register_import_target, scope, library)
    response.headers["Location"] = f"/jobs/{job.id}"
    view: JobView = job.view()
    return view
