"""The generation service: validate a request, resolve its references, queue a job, and —
as the `generate` job handler — run the provider and store the results with a sidecar.

Layout under GENERATED_ROOT::

    inputs/<sha256>.png        normalised references and sketches (content-addressed)
    <name>.png                 a generated image, served at /generated/<name>.png
    <name>.json                its sidecar: prompt, refs, seed, provider, model, size, …

Library references are resolved through an injected `resolve_library_image(id) -> Path`
(or one a request passes in, bound to its caller's libraries) and "add to library" through
`add_to_library(path, tags, source, library) -> id`, so this module
knows neither Qdrant nor HTTP. A process without the library store (a job worker without
QDRANT_URL) passes `LibraryUnavailable` hooks, which refuse with the setting to change.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import random
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import anyio
from PIL import Image

from app.config import Settings
from app.errors import ConflictError, InvalidInputError, NotFoundError, ProviderUnavailableError, UnavailableError
from app.generation.base import GenerationSpec, Hooks, ImageProvider, Ref
from app.generation.describe import Describer, build_describer
from app.generation.factory import ProviderRegistry
from app.generation.grounding import apply_grounding
from app.generation.models import (
    DescribeRequest,
    DescribeResponse,
    GenerateParams,
    GenerateRequest,
    RefParam,
    RefSpec,
)
from app.imaging import decode_data_url, decode_image
from app.jobs.base import Job, JobContext, JobHandlers, JobQueue, utcnow
from app.net.fetch import fetch_url

log = logging.getLogger(__name__)

JOB_KIND = "generate"
INPUTS = "inputs"
GENERATED_URL = "/generated/"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.(png|json)$")
_WORD = re.compile(r"[a-z][a-z0-9-]{2,}")
_STOPWORDS = frozenset(
    {
        "the",
        "and",
        "with",
        "for",
        "from",
        "into",
        "onto",
        "over",
        "under",
        "this",
        "that",
    }
    | {"its", "are", "was", "were", "has", "have", "not", "but", "very"}
)

ResolveLibraryImage = Callable[[str], Path]
# (path, tags, source, library): library None = the service's default library.
AddToLibrary = Callable[[Path, list[str], str, str | None], str]


@dataclass(frozen=True)
class LibraryUnavailable:
    """Both library hooks of a process that has no library store: a call raises
    `UnavailableError` naming `setting`, and `check` refuses such a request at submit."""

    reason: str
    setting: str = "QDRANT_URL"

    def error(self, what: str, field: str) -> UnavailableError:
        return UnavailableError(f"{what} is not available: {self.reason}", self.setting, field=field)

    def __call__(self, *args: object) -> NoReturn:
        raise self.error("The library", "addToLibrary")


NO_LIBRARY = LibraryUnavailable("this server has no library store wired to generation.")


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str = "upload"


def prompt_tags(prompt: str, provider: str, limit: int = 16) -> list[str]:
    """Tags for a generated image added to the library: `generated`, the provider, and the
    prompt's words (lowercase, ≥ 3 letters, no stop words), so it is findable by text."""
    words: list[str] = []
    for word in _WORD.findall(prompt.lower()):
        if word not in _STOPWORDS and word not in words:
            words.append(word)
    return ["generated", provider, *words[:limit]]


class GenerationService:
    def __init__(
        self,
        settings: Settings,
        providers: ProviderRegistry,
        jobs: JobQueue,
        *,
        resolve_library_image: ResolveLibraryImage = NO_LIBRARY,
        add_to_library: AddToLibrary = NO_LIBRARY,
        url_transport: Any = None,
        describer: Describer | None = None,
    ) -> None:
        self.settings = settings
        self.providers = providers
        self.jobs = jobs
        self.resolve_library_image = resolve_library_image
        self.add_to_library = add_to_library
        self._url_transport = url_transport
        self._describer = describer
        self.root = settings.GENERATED_ROOT

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Folders are created on first write; with GENERATION_PRELOAD, load the default provider."""
        if self.settings.GENERATION_PRELOAD:
            provider = self.providers.get(self.settings.GENERATION_PROVIDER)
            await anyio.to_thread.run_sync(provider.load)

    async def stop(self) -> None:
        self.providers.close()

    def register_handlers(self, handlers: JobHandlers) -> None:
        handlers.register(JOB_KIND, self.run_job)

    # --- submit (API side) ---------------------------------------------------------------

    def provider_for(self, request: GenerateRequest) -> ImageProvider:
        name = request.provider or self.settings.GENERATION_PROVIDER
        provider = self.providers.get(name)
        if missing := provider.configured():
            raise ProviderUnavailableError(
                f"Provider `{name}` is not configured on this server: {missing}",
                provider=name,
            )
        return provider

    def check(
        self, request: GenerateRequest, uploads: list[Upload], resolve: ResolveLibraryImage | None = None
    ) -> ImageProvider:
        """Every 4xx that needs no I/O: limits, provider capabilities, upload references.
        `resolve`: the request's library resolver (default: the service's own)."""
        resolve = resolve or self.resolve_library_image
        s = self.settings
        if not request.prompt.strip() and not request.refs and request.sketch is None:
            raise InvalidInputError(
                "`prompt` is empty and there are no `refs` nor `sketch`.",
                field="prompt",
            )
        if len(request.refs) > s.GENERATION_MAX_REFS:
            raise InvalidInputError(
                f"`refs` has {len(request.refs)} references; at most {s.GENERATION_MAX_REFS} (GENERATION_MAX_REFS).",
                field="refs",
                limit=s.GENERATION_MAX_REFS,
            )
        if request.n > s.GENERATION_MAX_N:
            raise InvalidInputError(
                f"`n` is {request.n}; at most {s.GENERATION_MAX_N} (GENERATION_MAX_N).",
                field="n",
                limit=s.GENERATION_MAX_N,
            )
        if request.steps is not None and request.steps > s.GENERATION_MAX_STEPS:
            raise InvalidInputError(
                f"`steps` is {request.steps}; at most {s.GENERATION_MAX_STEPS} (GENERATION_MAX_STEPS).",
                field="steps",
                limit=s.GENERATION_MAX_STEPS,
            )
        if request.add_to_library and isinstance(self.add_to_library, LibraryUnavailable):
            raise self.add_to_library.error("`addToLibrary`", "addToLibrary")
        if request.add_to_library and self.jobs is not None and self.jobs.durable and not s.QDRANT_URL:
            # The job runs in a worker process, which cannot open the API's embedded store.
            raise ConflictError(
                "`addToLibrary` with REDIS_URL needs QDRANT_URL (a Qdrant server) so the job worker "
                "can write the library; the embedded store belongs to the API process.",
                field="addToLibrary",
            )
        used = {r.upload for r in request.refs if r.upload is not None}
        for i, ref in enumerate(request.refs):
            if ref.upload is not None and ref.upload >= len(uploads):
                raise InvalidInputError(
                    f"`refs[{i}].upload` is {ref.upload} but only {len(uploads)} `refUploads` files were sent.",
                    field=f"refs.{i}.upload",
                )
            if ref.id is not None and isinstance(resolve, LibraryUnavailable):
                raise resolve.error(f"`refs[{i}].id` (a library reference)", f"refs.{i}.id")
        for j in range(len(uploads)):
            if j not in used:
                raise InvalidInputError(
                    f'`refUploads[{j}]` is not used by any ref; reference it with {{"role": ..., "upload": {j}}}.',
                    field="refUploads",
                )
        provider = self.provider_for(request)
        provider.check(request)
        return provider

    async def submit(
        self,
        request: GenerateRequest,
        *,
        uploads: list[Upload] | None = None,
        sketch_upload: Upload | None = None,
        idempotency_key: str | None = None,
        resolve_library_image: ResolveLibraryImage | None = None,
        owner: str | None = None,
    ) -> Job:
        """Validate, resolve references to stored inputs, and queue a `generate` job."""
        if idempotency_key is not None and (existing := await self.jobs.find(idempotency_key)):
            return existing
        uploads = uploads or []
        if sketch_upload is not None and request.sketch is not None:
            raise InvalidInputError("Send the sketch as a file or as `sketch`, not both.", field="sketch")
        # grounding: true → refs from the coverage of a /search/complementary answer
        request, attribution = apply_grounding(request, self.settings.GENERATION_MAX_REFS)
        # Refs by `id` through the caller's resolver when given (only the libraries it may read).
        resolve = resolve_library_image or self.resolve_library_image
        provider = self.check(request, uploads, resolve)
        if (request.sketch is not None or sketch_upload is not None) and not provider.capabilities.sketch:
            raise InvalidInputError(f"Provider `{provider.name}` does not take a sketch.", field="sketch")
        refs = [await self._resolve_ref(i, ref, uploads, resolve) for i, ref in enumerate(request.refs)]
        sketch_file: str | None = None
        if sketch_upload is not None:
            sketch_file = await self._store_input(self._decode(sketch_upload.data, "sketch"))
        elif request.sketch is not None:
            sketch_file = await self._store_input(self._decode_data_url(request.sketch, "sketch"))
        params = GenerateParams(
            provider=provider.name,  # type: ignore[arg-type]
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            refs=refs,
            sketch=sketch_file,
            sketch_weight=request.sketch_weight,
            # A random seed leaves room for `seed + i` (one per image) under the provider's bound.
            seed=request.seed
            if request.seed is not None
            else random.randrange(provider.capabilities.max_seed - request.n + 2),
            width=request.width,
            height=request.height,
            n=request.n,
            steps=request.steps,
            guidance=request.guidance,
            add_to_library=request.add_to_library,
            library=request.library,
            owner=owner,
            attribution=attribution,
        )
        return await self.jobs.submit(
            JOB_KIND, params.model_dump(mode="json", by_alias=True), idempotency_key, owner=owner
        )

    def _decode(self, data: bytes, name: str) -> Image.Image:
        s = self.settings
        return decode_image(data, max_bytes=s.MAX_UPLOAD_BYTES, max_pixels=s.MAX_IMAGE_PIXELS, name=name)

    def _decode_data_url(self, url: str, name: str) -> Image.Image:
        s = self.settings
        return decode_data_url(url, max_bytes=s.MAX_UPLOAD_BYTES, max_pixels=s.MAX_IMAGE_PIXELS, name=name)

    async def _resolve_ref(self, i: int, ref: RefSpec, uploads: list[Upload], resolve: ResolveLibraryImage) -> RefParam:
        name = f"refs[{i}]"
        s = self.settings
        if ref.id is not None:
            try:
                path = await anyio.to_thread.run_sync(resolve, ref.id)
            except NotFoundError as e:
                raise NotFoundError(f"`{name}.id`: {e.message}", id=ref.id, field=f"refs.{i}.id") from e
            data = await anyio.to_thread.run_sync(path.read_bytes)
            image = self._decode(data, f"{name}.id")
        elif ref.url is not None:
            data = await fetch_url(
                ref.url,
                max_bytes=s.MAX_UPLOAD_BYTES,
                timeout_s=s.FETCH_TIMEOUT_S,
                allow_private=s.FETCH_ALLOW_PRIVATE,
                transport=self._url_transport,
            )
            image = self._decode(data, f"{name}.url")
        elif ref.image is not None:
            image = self._decode_data_url(ref.image, f"{name}.image")
        else:
            assert ref.upload is not None
            image = self._decode(uploads[ref.upload].data, f"refUploads[{ref.upload}]")
        file = await self._store_input(image)
        return RefParam(role=ref.role, weight=ref.weight, file=file, source=ref.source)

    async def _store_input(self, image: Image.Image) -> str:
        """Normalise (RGB, longest side ≤ REF_MAX_SIDE) and store by content hash."""

        def work() -> str:
            img = image.convert("RGB")
            side = self.settings.REF_MAX_SIDE
            if max(img.size) > side:
                img.thumbnail((side, side), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            data = buf.getvalue()
            name = f"{hashlib.sha256(data).hexdigest()}.png"
            path = self.root / INPUTS / name
            if not path.exists():
                _atomic_write(path, data)
            return name

        return await anyio.to_thread.run_sync(work)

    # --- the job (worker side) -----------------------------------------------------------

    async def run_job(self, raw: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        params = GenerateParams.model_validate(raw)
        provider = self.providers.get(params.provider)
        spec = await anyio.to_thread.run_sync(self._spec, params)
        output = await provider.generate(spec, Hooks(report=ctx.report, check_cancelled=ctx.check_cancelled))
        ctx.check_cancelled()
        images: list[dict[str, Any]] = []
        for i, image in enumerate(output.images):
            if params.add_to_library and (
                earlier := await anyio.to_thread.run_sync(self._added_earlier, ctx.job_id, i)
            ):
                # An earlier attempt of this job already added image i to the library: keep
                # that one, so a retry neither adds it twice nor orphans the first point.
                images.append(earlier)
                continue
            seed = output.seeds[i] if i < len(output.seeds) else None
            path = await anyio.to_thread.run_sync(
                self._store_result,
                ctx.job_id,
                i,
                image,
                params,
                output.model,
                seed,
                output.notes,
            )
            entry: dict[str, Any] = {
                "url": GENERATED_URL + path.name,
                "id": None,
                "seed": seed,
            }
            if params.add_to_library:
                tags = prompt_tags(params.prompt, params.provider)
                entry["id"] = await anyio.to_thread.run_sync(
                    self.add_to_library, path, tags, f"generated:{params.provider}", params.library
                )
                await anyio.to_thread.run_sync(self._record_library_id, path, entry["id"])
            images.append(entry)
        return {
            "images": images,
            "provider": params.provider,
            "model": output.model,
            # The seed actually used (null where the provider could not honour one).
            "seed": output.seeds[0] if output.seeds else None,
            "notes": output.notes,
            **({"attribution": params.attribution} if params.attribution is not None else {}),
        }

    def _added_earlier(self, job_id: str, index: int) -> dict[str, Any] | None:
        """The result entry of image `index` if an earlier attempt added it to the library."""
        sidecar_path = self.root / f"{job_id}-{index}.json"
        if not sidecar_path.is_file():
            return None
        sidecar = json.loads(sidecar_path.read_text())
        if not sidecar.get("libraryId"):
            return None
        return {"url": GENERATED_URL + sidecar["image"], "id": sidecar["libraryId"], "seed": sidecar.get("seed")}

    def _record_library_id(self, path: Path, library_id: str) -> None:
        sidecar_path = path.with_suffix(".json")
        sidecar = json.loads(sidecar_path.read_text())
        sidecar["libraryId"] = library_id
        _atomic_write(sidecar_path, json.dumps(sidecar, indent=2).encode())

    def _spec(self, params: GenerateParams) -> GenerationSpec:
        def load(file: str) -> Image.Image:
            path = self.root / INPUTS / file
            if "/" in file or not path.is_file():
                raise NotFoundError(f"Stored input {file!r} is missing under GENERATED_ROOT/{INPUTS}.")
            with Image.open(path) as img:
                return img.convert("RGB")

        refs = [
            Ref(
                role=r.role,
                weight=r.weight,
                image=load(r.file),
                label=json.dumps(r.source),
            )
            for r in params.refs
        ]
        return GenerationSpec(
            prompt=params.prompt,
            negative_prompt=params.negative_prompt,
            refs=refs,
            sketch=load(params.sketch) if params.sketch else None,
            sketch_weight=params.sketch_weight,
            seed=params.seed if params.seed is not None else 0,
            width=params.width,
            height=params.height,
            n=params.n,
            steps=params.steps,
            guidance=params.guidance,
        )

    def _store_result(
        self,
        job_id: str,
        index: int,
        image: Image.Image,
        params: GenerateParams,
        model: str,
        seed: int | None,
        notes: list[str],
    ) -> Path:
        stem = f"{job_id}-{index}"
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        path = self.root / f"{stem}.png"
        _atomic_write(path, buf.getvalue())
        sidecar = {
            "image": path.name,
            "jobId": job_id,
            "index": index,
            "createdAt": utcnow().isoformat(),
            "provider": params.provider,
            "model": model,
            "seed": seed,
            "prompt": params.prompt,
            "negativePrompt": params.negative_prompt,
            "refs": [r.model_dump(by_alias=True) for r in params.refs],
            "sketch": params.sketch,
            "sketchWeight": params.sketch_weight,
            "width": image.width,
            "height": image.height,
            "steps": params.steps,
            "guidance": params.guidance,
            "notes": notes,
            **({"attribution": params.attribution} if params.attribution is not None else {}),
            **({"owner": params.owner} if params.owner is not None else {}),
        }
        _atomic_write(self.root / f"{stem}.json", json.dumps(sidecar, indent=2).encode())
        return path

    # --- describe (image → text) ------------------------------------------------------

    @property
    def describer(self) -> Describer:
        if self._describer is None:
            self._describer = build_describer(self.settings)
        return self._describer

    async def describe(
        self,
        request: DescribeRequest,
        upload: Upload | None = None,
        resolve_library_image: ResolveLibraryImage | None = None,
    ) -> DescribeResponse:
        """Caption one image given as a file, a data URL, or a library id."""
        given = [name for name, v in (("file", upload), ("image", request.image), ("id", request.id)) if v is not None]
        if len(given) != 1:
            raise InvalidInputError(
                f"Send exactly one of an `image` file, `image` (data URL) or `id`, not {given or 'none'}.",
                field="image",
            )
        if upload is not None:
            image = self._decode(upload.data, "image")
        elif request.image is not None:
            image = self._decode_data_url(request.image, "image")
        else:
            assert request.id is not None
            resolve = resolve_library_image or self.resolve_library_image
            if isinstance(resolve, LibraryUnavailable):
                raise resolve.error("`id` (a library image)", "id")
            path = await anyio.to_thread.run_sync(resolve, request.id)
            image = self._decode(await anyio.to_thread.run_sync(path.read_bytes), "id")
        describer = self.describer
        caption = await anyio.to_thread.run_sync(describer.caption, image, request.prompt)
        return DescribeResponse(caption=caption, model=describer.model_name)

    # --- serving -------------------------------------------------------------------------

    def generated_file(self, name: str, may_see: Callable[[str | None], bool] = lambda owner: True) -> Path:
        """A generated image or sidecar by name (GET /generated/{name}); 404 otherwise, and
        404 too when `may_see` refuses the owner its sidecar records (another tenant's)."""
        if not _NAME.match(name):
            raise NotFoundError(f"No generated file {name!r}.", name=name)
        path = (self.root / name).resolve()
        if path.parent != self.root.resolve() or not path.is_file():
            raise NotFoundError(f"No generated file {name!r}.", name=name)
        sidecar = path.with_suffix(".json")
        owner = json.loads(sidecar.read_text()).get("owner") if sidecar.is_file() else None
        if not may_see(owner):
            raise NotFoundError(f"No generated file {name!r}.", name=name)
        return path


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_generation_service(
    settings: Settings,
    jobs: JobQueue,
    *,
    resolve_library_image: ResolveLibraryImage = NO_LIBRARY,
    add_to_library: AddToLibrary = NO_LIBRARY,
    providers: dict[str, ImageProvider] | None = None,
    describer: Describer | None = None,
) -> GenerationService:
    """The service from settings; `await start()` / `stop()` it in the lifespan."""
    return GenerationService(
        settings,
        ProviderRegistry(settings, providers),
        jobs,
        resolve_library_image=resolve_library_image,
        add_to_library=add_to_library,
        describer=describer,
    )
