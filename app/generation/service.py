"""The generation service (API side): validate a request, resolve its references to stored
inputs, queue a `generate` job; and describe an image. The parts it wires:

* app/generation/checks.py — the request checks that need no I/O and no provider;
* app/generation/files.py — the files under GENERATED_ROOT (inputs, results, sidecars);
* app/generation/job.py — the `generate` job handler (worker side);
* app/generation/library.py — the library hooks (refs by id, `addToLibrary`), injected so
  generation knows neither Qdrant nor HTTP.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from PIL import Image

from app.config import Settings
from app.errors import InvalidInputError, NotFoundError, ProviderUnavailableError
from app.generation.base import ImageProvider
from app.generation.checks import check_request
from app.generation.describe import Describer, build_describer
from app.generation.factory import ProviderRegistry
from app.generation.files import EncodedInput, GeneratedFiles
from app.generation.grounding import apply_grounding
from app.generation.job import JOB_KIND, GenerateJob
from app.generation.library import NO_LIBRARY, AddToLibrary, LibraryUnavailable, ResolveLibraryImage
from app.generation.mask import base_output_size, check_base_aspect, check_mask
from app.generation.models import (
    DEFAULT_IMG2IMG_STRENGTH,
    DEFAULT_INPAINT_STRENGTH,
    DescribeRequest,
    DescribeResponse,
    GenerateParams,
    GenerateRequest,
    ImageSource,
    RefParam,
    RefSpec,
)
from app.imaging import decode_data_url, decode_image, request_limits
from app.jobs.base import IdempotencyKey, Job, JobHandlers, JobQueue
from app.net.fetch import fetch_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str = "upload"


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
        self.files = GeneratedFiles(settings.GENERATED_ROOT, settings.REF_MAX_SIDE)
        self.job = GenerateJob(providers, self.files, add_to_library)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Folders are created on first write; inputs no job asked for within JOB_TTL_S are
        removed; with GENERATION_PRELOAD, load the default provider."""
        swept = await anyio.to_thread.run_sync(self.files.sweep_inputs, self.settings.JOB_TTL_S)
        if swept:
            log.info("removed %d stored inputs no job used within JOB_TTL_S", swept)
        if self.settings.GENERATION_PRELOAD:
            provider = self.providers.get(self.settings.GENERATION_PROVIDER)
            # In a daemon thread nobody joins: a slow or stuck download neither delays the
            # server's start nor keeps a stopping server alive; the first job waits for it.
            threading.Thread(target=self._preload, args=(provider,), name="preload", daemon=True).start()

    @staticmethod
    def _preload(provider: ImageProvider) -> None:
        try:
            provider.load()
        except Exception:
            log.exception("preloading provider %s failed; the first job tries again", provider.name)

    async def stop(self) -> None:
        self.providers.close()
        if self._describer is not None:
            self._describer.close()

    def register_handlers(self, handlers: JobHandlers) -> None:
        handlers.register(JOB_KIND, self.job)

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
        self,
        request: GenerateRequest,
        uploads: list[Upload],
        resolve: ResolveLibraryImage | None = None,
        *,
        base_file: bool = False,
        mask_file: bool = False,
    ) -> ImageProvider:
        """Every 4xx that needs no I/O (app/generation/checks.py), then the provider's own
        (sizes, capabilities, edit modes). `resolve`: the request's library resolver (default:
        the service's own). `base_file` / `mask_file`: those came as multipart files. An edit
        without `width`/`height` takes the base's aspect: its size is checked once the base
        is read (`submit`)."""
        check_request(
            request,
            self.settings,
            uploads=len(uploads),
            resolve=resolve or self.resolve_library_image,
            add_to_library=self.add_to_library,
            durable_jobs=self.jobs.durable,
            base_file=base_file,
            mask_file=mask_file,
        )
        provider = self.provider_for(request)
        base = request.base_image is not None or base_file
        provider.check_edit(base=base, mask=request.mask is not None or mask_file, mode=request.edit_mode)
        provider.check(request, size=not base or _size_sent(request))
        return provider

    async def submit(
        self,
        request: GenerateRequest,
        *,
        uploads: list[Upload] | None = None,
        sketch_upload: Upload | None = None,
        base_upload: Upload | None = None,
        mask_upload: Upload | None = None,
        idempotency_key: IdempotencyKey | None = None,
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
        if sketch_upload is not None and (request.base_image is not None or base_upload is not None):
            raise InvalidInputError(
                "Send a `sketch` or a `baseImage`, not both: each is the picture to start from.", field="sketch"
            )
        provider = self.check(
            request, uploads, resolve, base_file=base_upload is not None, mask_file=mask_upload is not None
        )
        if (request.sketch is not None or sketch_upload is not None) and not provider.capabilities.sketch:
            raise InvalidInputError(f"Provider `{provider.name}` does not take a sketch.", field="sketch")
        # Inputs are encoded as they are resolved and written once all of them are: a request
        # refused half-way (a ref that is not there, a mask of the wrong size) stores nothing.
        pending: list[EncodedInput] = []
        edit = await self._edit_inputs(request, provider, uploads, resolve, base_upload, mask_upload, pending)
        if edit.base is not None and not _size_sent(request):
            request = request.model_copy(update={"width": edit.size[0], "height": edit.size[1]})
        refs = [await self._resolve_ref(i, ref, uploads, resolve, pending) for i, ref in enumerate(request.refs)]
        sketch_file: str | None = None
        if sketch_upload is not None:
            sketch_file = await self._encode(pending, self._decode(sketch_upload.data, "sketch"))
        elif request.sketch is not None:
            sketch_file = await self._encode(pending, self._decode_data_url(request.sketch, "sketch"))
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
            base_image=edit.base,
            base_source=edit.source,
            strength=edit.strength,
            mask=edit.mask,
            edit_mode=request.edit_mode if edit.mask is not None else None,
        )
        await anyio.to_thread.run_sync(self.files.write_inputs, pending)
        return await self.jobs.submit(
            JOB_KIND, params.model_dump(mode="json", by_alias=True), idempotency_key, owner=owner
        )

    async def _encode(self, pending: list[EncodedInput], image: Image.Image) -> str:
        """`image` normalised and named, to be written with the request's other inputs."""
        encoded = await anyio.to_thread.run_sync(self.files.encode_input, image)
        pending.append(encoded)
        return encoded.name

    def _decode(self, data: bytes, name: str, max_side: int | None = None) -> Image.Image:
        # Refs and sketches are stored at most REF_MAX_SIDE (`store_input`): decoded no larger.
        return decode_image(data, **request_limits(self.settings, name, max_side or self.settings.REF_MAX_SIDE))

    def _decode_data_url(self, url: str, name: str, max_side: int | None = None) -> Image.Image:
        return decode_data_url(url, **request_limits(self.settings, name, max_side or self.settings.REF_MAX_SIDE))

    async def resolve_source(
        self, name: str, path: str, source: ImageSource, uploads: list[Upload], resolve: ResolveLibraryImage
    ) -> Image.Image:
        """The picture a ref or the base names (library id, URL, data URL or upload), decoded
        with bounds. `name` / `path`: how errors name the field (`refs[0]`, `refs.0`)."""
        s = self.settings
        if source.id is not None:
            try:
                file = await anyio.to_thread.run_sync(resolve, source.id)
            except NotFoundError as e:
                raise NotFoundError(f"`{name}.id`: {e.message}", id=source.id, field=f"{path}.id") from e
            data = await anyio.to_thread.run_sync(file.read_bytes)
            return self._decode(data, f"{name}.id")
        if source.url is not None:
            try:
                data = await fetch_url(
                    source.url,
                    max_bytes=s.MAX_UPLOAD_BYTES,
                    timeout_s=s.FETCH_TIMEOUT_S,
                    allow_private=s.FETCH_ALLOW_PRIVATE,
                    transport=self._url_transport,
                )
            except InvalidInputError as e:  # a URL refused (scheme, address): say which one
                raise InvalidInputError(f"`{name}.url`: {e.message}", field=f"{path}.url") from e
            return self._decode(data, f"{name}.url")
        if source.image is not None:
            return self._decode_data_url(source.image, f"{name}.image")
        assert source.upload is not None
        return self._decode(uploads[source.upload].data, f"refUploads[{source.upload}]")

    async def _resolve_ref(
        self, i: int, ref: RefSpec, uploads: list[Upload], resolve: ResolveLibraryImage, pending: list[EncodedInput]
    ) -> RefParam:
        image = await self.resolve_source(f"refs[{i}]", f"refs.{i}", ref, uploads, resolve)
        file = await self._encode(pending, image)
        return RefParam(role=ref.role, weight=ref.weight, file=file, source=ref.source)

    async def _edit_inputs(
        self,
        request: GenerateRequest,
        provider: ImageProvider,
        uploads: list[Upload],
        resolve: ResolveLibraryImage,
        base_upload: Upload | None,
        mask_upload: Upload | None,
        pending: list[EncodedInput],
    ) -> EditInputs:
        """The stored base and mask of an edit, the strength it runs at, and the output size
        (the request's, checked against the base's aspect, or the base's aspect at the
        provider's size); nothing for a request without a base."""
        if base_upload is not None:
            base = self._decode(base_upload.data, "baseImage")
            source: dict[str, Any] = {"file": base_upload.filename}
        elif request.base_image is not None:
            base = await self.resolve_source("baseImage", "baseImage", request.base_image, uploads, resolve)
            source = request.base_image.source
        else:
            return EditInputs()
        caps = provider.capabilities
        if _size_sent(request):
            check_base_aspect(base.size, request.width, request.height)
            size = (request.width, request.height)
        else:
            longest = min(GenerateRequest.model_fields["width"].default, caps.max_side)
            size = base_output_size(base.size, longest, caps.size_multiple)
            try:
                provider.check_size(*size)
            except InvalidInputError as e:
                raise InvalidInputError(
                    f"`baseImage` ({base.width}x{base.height}) does not fit provider `{provider.name}`: {e.message}",
                    field="baseImage",
                ) from e
        mask_file: str | None = None
        if mask_upload is not None or request.mask is not None:
            mask = (
                self._decode(mask_upload.data, "mask")
                if mask_upload is not None
                else self._decode_data_url(request.mask or "", "mask")
            )
            binary = await anyio.to_thread.run_sync(
                partial(check_mask, mask, base.size, allow_full=request.allow_full_mask)
            )
            mask_file = await self._encode(pending, binary)
        base_file = await self._encode(pending, base)
        strength = request.strength
        if strength is None:
            strength = DEFAULT_INPAINT_STRENGTH if mask_file is not None else DEFAULT_IMG2IMG_STRENGTH
        return EditInputs(base_file, source, mask_file, strength, size)

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
        side = self.settings.REQUEST_IMAGE_MAX_SIDE  # the captioner's input is smaller still
        if upload is not None:
            image = self._decode(upload.data, "image", side)
        elif request.image is not None:
            image = self._decode_data_url(request.image, "image", side)
        else:
            assert request.id is not None
            resolve = resolve_library_image or self.resolve_library_image
            if isinstance(resolve, LibraryUnavailable):
                raise resolve.error("`id` (a library image)", "id")
            path = await anyio.to_thread.run_sync(resolve, request.id)
            image = self._decode(await anyio.to_thread.run_sync(path.read_bytes), "id", side)
        describer = self.describer
        caption = await anyio.to_thread.run_sync(describer.caption, image, request.prompt)
        return DescribeResponse(caption=caption, model=describer.model_name)

    # --- serving -------------------------------------------------------------------------

    def generated_file(self, name: str, may_see: Callable[[str | None], bool] = lambda owner: True) -> Path:
        """A generated image or sidecar by name (GET /generated/{name}); see GeneratedFiles.served."""
        return self.files.served(name, may_see)


@dataclass(frozen=True)
class EditInputs:
    """An edit's stored inputs (names under GENERATED_ROOT/inputs) and what it runs at."""

    base: str | None = None
    source: dict[str, Any] | None = None
    mask: str | None = None
    strength: float | None = None
    size: tuple[int, int] = (0, 0)


def _size_sent(request: GenerateRequest) -> bool:
    """Whether the request chose its output size (else an edit takes the base's aspect)."""
    return bool({"width", "height"} & request.model_fields_set)


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
