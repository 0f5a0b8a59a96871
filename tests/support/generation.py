"""Generation rigs: settings for the tiny SDXL, coloured test pictures, a small app with the
generation and job routers over an in-process queue or over arq with a worker in its lifespan."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from app.api.errors import install_error_handlers
from app.api.routes import generate as generate_routes
from app.api.routes import jobs as jobs_routes
from app.config import Settings
from app.generation.base import ImageProvider
from app.generation.library import NO_LIBRARY, AddToLibrary, ResolveLibraryImage
from app.generation.service import GenerationService
from app.jobs import JobHandlers, JobQueue
from app.services import build_generation_and_jobs
from tests.support.serving import serve_generation

BACKENDS = ["memory", "redis"]


def make_settings(tiny_env: dict[str, str], root: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        **tiny_env,
        "DEVICE": "cpu",
        "GENERATED_ROOT": root,
        "SDXL_DEFAULT_STEPS": 2,
        "JOB_MAX_TRIES": 1,
        "JOB_DRAIN_S": 0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def png(color: tuple[int, int, int], size: tuple[int, int] = (48, 48)) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, color)
    for x in range(0, size[0], 6):  # some structure, so references differ in more than colour
        img.putpixel((x, x % size[1]), (255 - color[0], 255 - color[1], 255 - color[2]))
    img.save(buf, format="PNG")
    return buf.getvalue()


def data_url(color: tuple[int, int, int]) -> str:
    return "data:image/png;base64," + base64.b64encode(png(color)).decode()


def resolver(library: dict[str, Path]) -> ResolveLibraryImage:
    from app.errors import NotFoundError

    def resolve(image_id: str) -> Path:
        if image_id not in library:
            raise NotFoundError(f"No image with id {image_id!r}.", id=image_id)
        return library[image_id]

    return resolve


def make_app(
    settings: Settings,
    providers: dict[str, ImageProvider],
    *,
    resolve_library_image: ResolveLibraryImage = NO_LIBRARY,
    add_to_library: AddToLibrary = NO_LIBRARY,
    redis: str | None = None,
) -> tuple[FastAPI, GenerationService, JobQueue]:
    """With `redis` (a URL): jobs on arq (a fresh queue name), run by an arq worker in the lifespan
    with the same handlers, as `python -m app.jobs.worker` would."""
    if redis is not None:
        settings = settings.model_copy(
            update={"REDIS_URL": redis, "JOB_QUEUE_NAME": f"clippy-gen-test:{time.monotonic_ns()}"}
        )
    handlers = JobHandlers()
    generation, jobs = build_generation_and_jobs(
        settings,
        resolve_library_image=resolve_library_image,
        add_to_library=add_to_library,
        providers=providers,
        handlers=handlers,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from app.jobs.worker import build_worker

        await generation.start()
        await jobs.start()
        worker = task = None
        if redis is not None:
            worker = build_worker(settings, handlers, handle_signals=False, poll_delay=0.02)
            task = asyncio.create_task(worker.async_run())
        try:
            yield
        finally:
            if worker is not None and task is not None:
                await worker.close()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await jobs.stop()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(generate_routes.router)
    app.include_router(jobs_routes.router)
    serve_generation(app, generation, jobs, settings)
    return app, generation, jobs


def poll(client: TestClient, location: str, *statuses: str, timeout: float = 60.0) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(location).json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{location} is {body}, expected {statuses}")
        time.sleep(0.05)
