"""The story service: POST /stories queues a `story` job (API side), the job tells the story
and files it in the story index (worker side), GET /stories searches the index.

Generation hooks are shared with app/generation (the input files under GENERATED_ROOT, the
library resolver), so a story's picture is decoded and bounded exactly like a reference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
from PIL import Image

from app.config import Settings
from app.errors import InvalidInputError, NotFoundError, ProviderUnavailableError
from app.generation.files import GeneratedFiles
from app.generation.library import NO_LIBRARY, LibraryUnavailable, ResolveLibraryImage
from app.imaging import decode_data_url, decode_image, request_limits
from app.jobs.base import IdempotencyKey, Job, JobContext, JobHandlers, JobQueue
from app.storage.types import Filter
from app.stories.base import StoryProvider
from app.stories.factory import build_story_provider
from app.stories.index import MAX_QUERY_CHARS, StoryIndex
from app.stories.models import Story, StoryHit, StoryParams, StoryRequest, StoryResult
from app.telemetry import StageSink, no_stages, span

log = logging.getLogger(__name__)

JOB_KIND = "story"


class StoryService:
    def __init__(
        self,
        settings: Settings,
        jobs: JobQueue,
        *,
        index: StoryIndex | None = None,
        provider: StoryProvider | None = None,
        resolve_library_image: ResolveLibraryImage = NO_LIBRARY,
        observe: StageSink = no_stages,  # the stages it times (app/api/metrics.py exports them)
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.index = index
        self._provider = provider
        self.resolve_library_image = resolve_library_image
        self.files = GeneratedFiles(settings.GENERATED_ROOT, settings.REF_MAX_SIDE)
        self.observe = observe

    @property
    def provider(self) -> StoryProvider:
        if self._provider is None:
            self._provider = build_story_provider(self.settings)
        return self._provider

    def register_handlers(self, handlers: JobHandlers) -> None:
        handlers.register(JOB_KIND, self.run)

    async def stop(self) -> None:
        if self._provider is not None:
            self._provider.close()
        if self.index is not None:
            self.index.close()

    # --- submit (API side) ---------------------------------------------------------------

    async def submit(
        self,
        request: StoryRequest,
        *,
        upload: bytes | None = None,
        resolve_library_image: ResolveLibraryImage | None = None,
        owner: str | None = None,
        idempotency_key: IdempotencyKey | None = None,
    ) -> Job:
        """Validate, store the picture as a job input, queue a `story` job."""
        if idempotency_key is not None and (existing := await self.jobs.find(idempotency_key)):
            return existing
        if missing := self.provider.configured():
            raise ProviderUnavailableError(
                f"Story provider `{self.provider.name}` is not usable on this server: {missing}",
                provider=self.provider.name,
            )
        image = await self.load_image(request.image, request.id, upload, resolve_library_image)
        file = await anyio.to_thread.run_sync(self.files.store_input, image)
        params = StoryParams(
            image=file, prompt=request.prompt, source_image_id=request.id, library=request.library, owner=owner
        )
        with span("api.submit", kind=JOB_KIND):
            return await self.jobs.submit(
                JOB_KIND, params.model_dump(mode="json", by_alias=True), idempotency_key, owner=owner
            )

    async def load_image(
        self,
        data_url: str | None,
        image_id: str | None,
        upload: bytes | None,
        resolve: ResolveLibraryImage | None = None,
    ) -> Image.Image:
        """Exactly one of an uploaded file, a data URL or a library id, decoded and bounded."""
        given = [n for n, v in (("file", upload), ("image", data_url), ("id", image_id)) if v is not None]
        if len(given) != 1:
            raise InvalidInputError(
                f"Send exactly one of an `image` file, `image` (data URL) or `id`, not {given or 'none'}.",
                field="image",
            )
        limits = request_limits(self.settings, "image", self.settings.REF_MAX_SIDE)
        if upload is not None:
            return decode_image(upload, **limits)
        if data_url is not None:
            return decode_data_url(data_url, **limits)
        assert image_id is not None
        resolve = resolve or self.resolve_library_image
        if isinstance(resolve, LibraryUnavailable):
            raise resolve.error("`id` (a library image)", "id")
        try:
            path = await anyio.to_thread.run_sync(resolve, image_id)
        except NotFoundError as e:
            raise NotFoundError(f"`id`: {e.message}", id=image_id, field="id") from e
        return decode_image(await anyio.to_thread.run_sync(path.read_bytes), **limits)

    # --- the job (worker side) -----------------------------------------------------------

    async def run(self, raw: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        start = time.perf_counter()
        with span("job.story", job_id=ctx.job_id):
            result = await self._run(raw, ctx)
        self.observe(JOB_KIND, "total", time.perf_counter() - start)
        return result

    async def _run(self, raw: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        params = StoryParams.model_validate(raw)
        image = await anyio.to_thread.run_sync(self.files.load_input, params.image)
        ctx.report(0, 1)
        provider = self.provider
        with span("story.provider", provider=provider.name, model=provider.model_name):
            out = await anyio.to_thread.run_sync(provider.tell, image, params.prompt)
        ctx.check_cancelled()
        timings = dict(out.timings)
        story_id = None
        if self.index is not None:
            start = time.perf_counter()
            story_id = await anyio.to_thread.run_sync(self._add, out.story, params, out.model)
            timings["index"] = time.perf_counter() - start
        for stage, seconds in timings.items():
            self.observe(JOB_KIND, stage, seconds)
        ctx.report(1, 1)
        result = StoryResult(
            story=out.story, story_id=story_id, provider=provider.name, model=out.model, timings=timings
        )
        return result.model_dump(mode="json", by_alias=True)

    def _add(self, story: Story, params: StoryParams, model: str) -> str:
        assert self.index is not None
        return self.index.add(
            story, source_image_id=params.source_image_id, library=params.library, owner=params.owner, model=model
        )

    # --- the index -----------------------------------------------------------------------

    def _index(self) -> StoryIndex:
        if self.index is None:
            raise ProviderUnavailableError("This process has no story index (it needs the library's store).")
        return self.index

    async def search(self, query: str, limit: int, flt: Filter | None = None) -> list[StoryHit]:
        query = query.strip()
        if not query or len(query) > MAX_QUERY_CHARS:
            raise InvalidInputError(f"`query` must have 1 to {MAX_QUERY_CHARS} characters.", field="query")
        return await anyio.to_thread.run_sync(self._index().search, query, limit, flt)

    async def get(self, story_id: str, may_read: Callable[[dict[str, Any]], bool] | None = None) -> Story:
        return await anyio.to_thread.run_sync(self._index().get, story_id, may_read)
