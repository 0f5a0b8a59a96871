"""The compatibility router: the seed projects' own requests, answered by Clippy.

Every shape that exists only because a seed (shared/seeds 000-004) or the original project's
client (GitHub killmlana/Clippy: FabricSketchPad.tsx, App.tsx) uses it lives here, on top of
Clippy's libraries, imports, search and generation. Nothing here is new behaviour: each route
translates a seed's request into Clippy's own and its answer back. docs/compat.md lists them.

* The original client's search form (`POST /search/hybrid`, multipart, snake_case):
  `SeedSearch` renames its fields for `HybridQuery` (search.py calls it) and `seed_search_answer`
  adds the seed backend's hit shape (`results`, `image_url`, `payload.tags_all`).
* Its synchronous `POST /generate_image`: the normal generate job, waited for at most
  COMPAT_GENERATE_WAIT_S, answered as `{"data": [{"b64_json": …}]}`; 202 + `Location` after that.
* Smart Gallery (003): `/db/initialize` (a library), `/images/add`, `/images/add-folder`
  (imports under IMPORT_ROOTS), `POST /images/search` (text search in that library).
* RAVSG (001): `/generate-image` (a one-frame storyboard: grounded on earlier generations), `/job/{id}` (the job in its shape),
  `/generate-story` (a `story` job: the story provider, answered by `/job/{id}` as `{"story"}`).
* CLIP search (004) reads stored embeddings: `GET /images/{id}/vectors`.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.api.bodies import read_body
from app.api.deps import (
    GenerationDep,
    ImageSlotsDep,
    ImportsDep,
    JobsDep,
    LibrariesDep,
    LibraryResolverDep,
    ScopeDep,
    SearcherDep,
    ServicesDep,
    StoriesDep,
    StoryboardsDep,
)
from app.api.openapi import problems
from app.errors import ClippyError, ConflictError, InvalidInputError, ProviderError, WeightsUnavailableError
from app.generation.models import MAX_PROMPT_CHARS, PROVIDERS, GenerateRequest, ImageId, RefSpec
from app.jobs.base import Job, JobQueue, JobView, unknown_job
from app.library.browse import text_search
from app.library.imports import ImportOptions
from app.library.models import CreateLibrary
from app.models import CamelModel
from app.search.models import SearchResult
from app.stories.models import Story, StoryboardRequest, StoryRequest

router = APIRouter(tags=["compat"])

# --- the original client's search form (POST /search/hybrid) ------------------------------

# Its names for Clippy's fields (it sends both spellings of each weight).
SEED_SEARCH_RENAMES = {"w_image": "w_img", "w_edges": "w_edge", "w_text": "w_txt", "top": "limit"}
# Sent, and of no use here: `user_id` names a profile, but the API key says who asks (a
# client cannot speak for another user); `meta_sketch_bytes` is the client's own bookkeeping.
SEED_SEARCH_IGNORED = ("user_id", "meta_sketch_bytes")
# Fields only the seed's client sends (Clippy's own clients send camelCase).
SEED_SEARCH_MARKERS = frozenset(
    {*SEED_SEARCH_RENAMES, *SEED_SEARCH_IGNORED, "query_text", "w_img", "w_edge", "w_txt", "tag_filters"}
)


def _tag_list(value: Any) -> list[str]:
    """The seed's `tag_filters`: "a, b" or "a b" (or a list)."""
    if isinstance(value, list):
        return [str(t).strip() for t in value if str(t).strip()]
    return [t for t in re.split(r"[,\s]+", str(value)) if t]


@dataclass
class SeedSearch:
    """Adapts one search body; `used` says whether it came in the seed's form (its answer then
    carries the seed's hit shape too)."""

    used: bool = False
    ignored: list[str] = field(default_factory=list)

    def adapt(self, fields: dict[str, Any]) -> dict[str, Any]:
        if not SEED_SEARCH_MARKERS & fields.keys():
            return fields
        self.used = True
        out = dict(fields)
        for name in SEED_SEARCH_IGNORED:
            if name in out:
                out.pop(name)
                self.ignored.append(name)
        for old, new in SEED_SEARCH_RENAMES.items():
            if old in out:
                value = out.pop(old)
                out.setdefault(new, value)  # Clippy's own name wins where both are sent
        if "tag_filters" in out:
            # The seed's filter is OR over tags: Clippy's `tagsAny`.
            tags = _tag_list(out.pop("tag_filters"))
            if tags:
                flt = dict(out.get("filter") or {})
                given: list[str] = list(flt.pop("tags_any", None) or flt.get("tagsAny") or [])
                flt["tagsAny"] = [*given, *tags]
                out["filter"] = flt
        return out


def seed_search_answer(result: SearchResult) -> JSONResponse:
    """Clippy's answer plus the seed backend's: `results` (= `hits`), each hit with `image_url`
    and its `payload` with the seed backend's `tags_all` and `image_url` too, and `priors_size`."""
    body = result.model_dump(mode="json", by_alias=True)
    for hit, raw in zip(result.hits, body["hits"], strict=True):
        raw["image_url"] = hit.image_url
        raw["payload"] |= {"tags_all": hit.tags, "image_url": hit.image_url}
    body["results"] = body["hits"]
    return JSONResponse(body)


# --- the original client's POST /generate_image --------------------------------------------


class _SeedModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedRef(BaseModel):
    """A hit the client picked: it sends the whole hit (`tags`, `palette`, `caption`, `score`
    and whatever the hit held), so keys other than these are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: ImageId | None = None
    image_url: str | None = Field(default=None, description="A data URL (the client inlines it) or a URL.")
    weight: float | None = Field(default=None, ge=0, le=1)


class SeedGenerate(_SeedModel):
    """POST /generate_image as the original client and its backend spell it."""

    refs: list[SeedRef] = Field(default_factory=list, description="Style references (the first leads).")
    subject_ref: SeedRef | None = Field(default=None, description="A subject reference.")
    image_url: str | None = Field(default=None, description="The sketch, as a data URL.")
    mask_url: str | None = Field(default=None, description="A mask for an edit: not served here (a 422 says so).")
    style_tags: list[str] = Field(default_factory=list, max_length=8, description="Style words added to the prompt.")
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    prompt_subject: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    subject: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    subject_type_default: str | None = Field(default=None, description="Imagen's subject type: accepted, ignored.")
    n: int = Field(default=1, ge=1)
    model: str | None = Field(default=None, description="`auto` or a provider name (sdxl, imagen, gemini).")


# The seed's recommended weights (002, "Recommended patterns"): style 0.5-0.8, subject 0.6-0.9.
STYLE_WEIGHT = 0.7
SUBJECT_WEIGHT = 0.8
_IMAGE_PATH = re.compile(r"/image/([0-9a-fA-F-]{36})(?:[?#].*)?$")


def _seed_ref(ref: SeedRef, role: Literal["style", "subject"], where: str) -> RefSpec:
    weight = ref.weight if ref.weight is not None else (STYLE_WEIGHT if role == "style" else SUBJECT_WEIGHT)
    url = ref.image_url or ""
    if url.startswith("data:"):
        return RefSpec(role=role, image=url, weight=weight)
    if ref.id is not None:
        return RefSpec(role=role, id=ref.id, weight=weight)
    if match := _IMAGE_PATH.search(url):  # the client's /api/image/<id> when it could not inline
        return RefSpec(role=role, id=match.group(1), weight=weight)
    if url.startswith(("http://", "https://")):
        return RefSpec(role=role, url=url, weight=weight)
    raise InvalidInputError(f"`{where}` needs an `id` or an `image_url` (a data URL or http(s) URL).", field=where)


def seed_generate_request(body: SeedGenerate) -> GenerateRequest:
    """The seed's request as Clippy's: refs with roles and weights, the sketch, a prompt of the
    subject and the style tags."""
    if body.mask_url:
        raise InvalidInputError("`mask_url`: masked edits are not served by this server.", field="mask_url")
    refs = [_seed_ref(r, "style", f"refs[{i}]") for i, r in enumerate(body.refs)]
    if body.subject_ref is not None:
        refs.append(_seed_ref(body.subject_ref, "subject", "subject_ref"))
    words = [w for w in (body.prompt, body.prompt_subject or body.subject) if w]
    if body.style_tags:
        words.append("in the style of " + ", ".join(t.replace("_", " ") for t in body.style_tags))
    sketch = body.image_url
    if sketch is not None and not sketch.startswith("data:"):
        raise InvalidInputError("`image_url` (the sketch) must be a data URL.", field="image_url")
    return GenerateRequest(
        prompt=". ".join(words)[:MAX_PROMPT_CHARS],
        refs=refs,
        sketch=sketch,
        n=body.n,
        provider=body.model if body.model in PROVIDERS else None,  # type: ignore[arg-type]
    )


async def wait_for_job(jobs: JobQueue, job: Job, timeout_s: float) -> Job:
    """The job once finished, or as it stands after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while not job.finished and time.monotonic() < deadline:
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.5)
        job = await jobs.get(job.id)
    return job


class SeedImage(BaseModel):
    b64_json: str = Field(description="The PNG, base64.")
    url: str = Field(description="/generated/<file>.png")
    id: str | None = Field(default=None, description="The library image id, when added to a library.")


class SeedGenerated(BaseModel):
    """The seed backend's answer: `data[i].b64_json`."""

    created: int
    data: list[SeedImage]
    job: str = Field(description="The generate job that made them (GET /jobs/{id}).")


def _accepted(job: Job) -> JSONResponse:
    return JSONResponse(
        job.view().model_dump(mode="json", by_alias=True), status_code=202, headers={"Location": f"/jobs/{job.id}"}
    )


def _failed(job: Job, retry_s: float) -> ClippyError:
    """The job's failure as this request's error: missing weights stay a 503 (Retry-After: when
    the next load is tried, MODEL_RETRY_S), anything else is the provider's failure (502)."""
    error = job.error
    what = f"{error.code}: {error.message}" if error else job.status
    message = f"generate job {job.id} {job.status}: {what}"
    if error is not None and error.code == WeightsUnavailableError.code:
        return WeightsUnavailableError(message, job=job.id, retry_after=math.ceil(retry_s))
    return ProviderError(message, job=job.id)


@router.post(
    "/generate_image",
    name="generate_image_seed",
    response_model=SeedGenerated,
    responses={
        200: {"description": "The images, when the job finished within COMPAT_GENERATE_WAIT_S."},
        202: {"description": "Still running: poll the `Location` header (/jobs/{id}).", "model": JobView},
        **problems(403, 404, 409, 413, 415, 429, 502, 503),
    },
    summary="The original client's synchronous generate (compatibility)",
)
async def generate_image(
    request: Request, generation: GenerationDep, jobs: JobsDep, scope: ScopeDep, resolve: LibraryResolverDep
) -> Any:
    settings = generation.settings
    body = await read_body(
        request,
        SeedGenerate,
        max_bytes=settings.MAX_UPLOAD_BYTES,
        max_json_bytes=settings.MAX_UPLOAD_BYTES * (settings.GENERATION_MAX_REFS + 2),
    )
    job = await generation.submit(
        seed_generate_request(body.model), resolve_library_image=resolve, owner=scope.principal.owner
    )
    job = await wait_for_job(jobs, job, settings.COMPAT_GENERATE_WAIT_S)
    if not job.finished:
        return _accepted(job)
    if job.status != "succeeded" or not job.result:
        raise _failed(job, settings.MODEL_RETRY_S)
    images = []
    for entry in job.result.get("images", []):
        path = generation.generated_file(entry["url"].rsplit("/", 1)[-1], scope.principal.may_see)
        data = await run_in_threadpool(path.read_bytes)
        images.append(SeedImage(b64_json=base64.b64encode(data).decode(), url=entry["url"], id=entry.get("id")))
    return SeedGenerated(created=int(time.time()), data=images, job=job.id)


# --- Smart Gallery (003): a "user" is a library ---------------------------------------------


class SeedInitialize(_SeedModel):
    user_name: str = Field(min_length=1, max_length=64, description="Becomes the library name.")


class SeedGallery(BaseModel):
    user_id: str = Field(description="The library name: pass it as `?user_id=` to the other gallery routes.")
    collection_name: str
    message: str


class SeedAddImage(_SeedModel):
    image_path: str = Field(min_length=1, description="A picture under one of IMPORT_ROOTS.")


class SeedAddFolder(_SeedModel):
    folder_path: str = Field(min_length=1, description="A folder under one of IMPORT_ROOTS.")


class SeedGallerySearch(_SeedModel):
    query: str = Field(min_length=1, max_length=1000)
    top_k: int = Field(default=10, ge=1, le=200)


UserIdParam = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def library_name(user_name: str) -> str:
    """A library name from the seed's free-form user name: other characters become `_`."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", user_name.strip()).strip("_")[:64]
    if not name:
        raise InvalidInputError(f"`user_name` {user_name!r} has no letter or digit.", field="user_name")
    return name


@router.post(
    "/db/initialize",
    name="initialize_gallery",
    response_model=SeedGallery,
    responses=problems(403, 409),
    summary="Smart Gallery: a library for this user name (compatibility)",
)
async def initialize_gallery(request: Request, libraries: LibrariesDep, scope: ScopeDep) -> SeedGallery:
    body = (await read_body(request, SeedInitialize, max_bytes=4096)).model
    name = library_name(body.user_name)
    try:
        await run_in_threadpool(libraries.create, scope, CreateLibrary(name=name))
        message = f"library {name!r} created"
    except ConflictError:
        # Initialising again is the same gallery, when the caller may write it.
        scope.check_write(name)
        message = f"library {name!r} exists"
    return SeedGallery(user_id=name, collection_name=name, message=message)


async def _import(
    imports: ImportsDep,
    libraries: LibrariesDep,
    scope: ScopeDep,
    user_id: str,
    response: Response,
    kind: Literal["file", "folder"],
    path: str,
) -> JobView:
    library = scope.check_write(user_id)
    how = ImportOptions(library, [], None, scope.principal.owner)
    if kind == "file":
        job = await imports.submit_file(how, path, "image_path")
    else:
        job = await imports.submit_folder(how, path)
    await run_in_threadpool(libraries.register_import_target, scope, library)  # queued: list the library
    response.headers["Location"] = f"/jobs/{job.id}"
    view: JobView = job.view()
    return view


IMPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Queued; poll the `Location` header (/jobs/{id})."},
    **problems(403, 404, 409, 413, 429),
}


@router.post(
    "/images/add",
    name="add_gallery_image",
    status_code=202,
    response_model=JobView,
    response_model_by_alias=True,
    responses=IMPORT_RESPONSES,
    summary="Smart Gallery: import one picture from the server (compatibility)",
)
async def add_image(
    request: Request,
    response: Response,
    user_id: UserIdParam,
    imports: ImportsDep,
    libraries: LibrariesDep,
    scope: ScopeDep,
) -> JobView:
    body = (await read_body(request, SeedAddImage, max_bytes=8192)).model
    return await _import(imports, libraries, scope, user_id, response, "file", body.image_path)


@router.post(
    "/images/add-folder",
    name="add_gallery_folder",
    status_code=202,
    response_model=JobView,
    response_model_by_alias=True,
    responses=IMPORT_RESPONSES,
    summary="Smart Gallery: import a folder from the server (compatibility)",
)
async def add_folder(
    request: Request,
    response: Response,
    user_id: UserIdParam,
    imports: ImportsDep,
    libraries: LibrariesDep,
    scope: ScopeDep,
) -> JobView:
    body = (await read_body(request, SeedAddFolder, max_bytes=8192)).model
    return await _import(imports, libraries, scope, user_id, response, "folder", body.folder_path)


@router.post(
    "/images/search",
    name="search_gallery",
    response_model=SearchResult,
    responses=problems(404, 409),
    summary="Smart Gallery: text search in this user's library (compatibility)",
)
async def search_gallery(
    request: Request, user_id: UserIdParam, searcher: SearcherDep, libraries: LibrariesDep, scope: ScopeDep
) -> JSONResponse:
    body = (await read_body(request, SeedGallerySearch, max_bytes=8192)).model
    await run_in_threadpool(libraries.check_exists, scope, user_id)  # 404 for a user never initialised
    result = await run_in_threadpool(text_search, searcher, body.query, body.top_k, user_id, scope)
    result.request_id = getattr(request.state, "request_id", None)
    return seed_search_answer(result)


# --- RAVSG (001): story → image and image → story, as jobs ---------------------------------


class SeedStoryToImage(_SeedModel):
    story: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)


class SeedImageToStory(_SeedModel):
    image: str = Field(min_length=1, description="A data URL.")


class SeedJob(BaseModel):
    job_id: str
    status: Literal["pending", "processing", "completed", "failed", "cancelled"]
    result: dict[str, str] | None = None
    error: str | None = None


_SEED_STATUS: dict[str, Literal["pending", "processing", "completed", "failed", "cancelled"]] = {
    "queued": "pending",
    "running": "processing",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


@router.post(
    "/generate-image",
    name="generate_image_from_story",
    status_code=202,
    response_model=SeedJob,
    responses={
        202: {"description": "Queued; poll `/job/{job_id}` (or the `Location` header)."},
        **problems(403, 409, 429, 503),
    },
    summary="RAVSG: queue a picture of a story (compatibility)",
)
async def generate_from_story(
    request: Request, response: Response, storyboards: StoryboardsDep, scope: ScopeDep
) -> SeedJob:
    """A one-frame storyboard of the story: grounded on the owner's earlier generations and the
    library (TOP_K_RETRIEVAL), and filed in the library when it can be, as the seed's RAG does."""
    body = (await read_body(request, SeedStoryToImage, max_bytes=MAX_PROMPT_CHARS * 4)).model
    defaults = GenerateRequest()
    add = storyboards.can_add_to_library and scope.can_write(scope.default_library)
    board = StoryboardRequest(
        story_text=body.story,
        frames=1,
        width=defaults.width,
        height=defaults.height,
        add_to_library=add,
        library=scope.default_library if add else None,
    )
    job = await storyboards.submit(
        board,
        owner=scope.principal.owner,
        readable=sorted(scope.readable) if scope.readable is not None else None,
    )
    response.headers["Location"] = f"/jobs/{job.id}"
    return SeedJob(job_id=job.id, status=_SEED_STATUS[job.status])


def _pictures(job: Job) -> list[dict[str, Any]]:
    """A finished job's pictures: a generation's images or a storyboard's frames."""
    result = job.result or {}
    found: list[dict[str, Any]] = result.get("images") or result.get("frames") or []
    return found if job.kind in ("generate", "storyboard") else []


@router.get(
    "/job/{job_id}",
    name="get_seed_job",
    response_model=SeedJob,
    responses=problems(404),
    summary="RAVSG: a job in its shape; a finished picture inline as a data URL (compatibility)",
)
async def get_seed_job(job_id: str, jobs: JobsDep, generation: GenerationDep, scope: ScopeDep) -> SeedJob:
    job = await jobs.get(job_id)
    principal = scope.principal
    if not principal.may_see(job.owner):
        raise unknown_job(job_id)
    result: dict[str, str] | None = None
    if job.status == "succeeded" and job.result and job.kind == "story":
        result = {"story": Story.model_validate(job.result["story"]).text}
    elif job.status == "succeeded" and job.result and (pictures := _pictures(job)):
        name = pictures[0]["url"].rsplit("/", 1)[-1]
        data = await run_in_threadpool(generation.generated_file(name, principal.may_see).read_bytes)
        result = {"image": "data:image/png;base64," + base64.b64encode(data).decode()}
    error = f"{job.error.code}: {job.error.message}" if job.error else None
    return SeedJob(job_id=job.id, status=_SEED_STATUS[job.status], result=result, error=error)


@router.post(
    "/generate-story",
    name="generate_story",
    status_code=202,
    response_model=SeedJob,
    responses={
        202: {"description": "Queued; poll `/job/{job_id}` (or the `Location` header)."},
        **problems(403, 413, 415, 429, 503),
    },
    summary="RAVSG: queue a story about a picture (compatibility)",
)
async def generate_story(
    request: Request, response: Response, stories: StoriesDep, scope: ScopeDep, slots: ImageSlotsDep
) -> SeedJob:
    """A `story` job (the story provider, STORY_PROVIDER); `/job/{job_id}` answers `result: {"story"}`."""
    body = (await read_body(request, SeedImageToStory, max_bytes=stories.settings.MAX_UPLOAD_BYTES)).model
    async with slots.hold():
        job = await stories.submit(
            StoryRequest(image=body.image, library=scope.write_target(None)), owner=scope.principal.owner
        )
    response.headers["Location"] = f"/jobs/{job.id}"
    return SeedJob(job_id=job.id, status=_SEED_STATUS[job.status])


# --- stored embeddings (004) ------------------------------------------------------------------


class ImageVectors(CamelModel):
    id: str
    library: str | None
    vectors: dict[str, list[float]] = Field(
        description="Each dense named vector the image has (image, edge, text, shape)."
    )


@router.get(
    "/images/{image_id}/vectors",
    name="get_image_vectors",
    response_model=ImageVectors,
    response_model_by_alias=True,
    responses=problems(404),
    summary="The stored named vectors of one image the key may read",
)
async def image_vectors(
    image_id: UUID, services: ServicesDep, libraries: LibrariesDep, scope: ScopeDep
) -> ImageVectors:
    # image_path checks the id and the caller's scope (404 for what it may not read).
    await run_in_threadpool(libraries.image_path, str(image_id), scope)
    (point,) = await run_in_threadpool(services.store.retrieve, [str(image_id)], True)
    return ImageVectors(
        id=point.id,
        library=point.payload.get("library"),
        vectors={name: [float(x) for x in vec] for name, vec in sorted(point.vectors.items())},
    )
