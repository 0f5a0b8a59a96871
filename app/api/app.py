"""The application factory: settings → model + store, opened once in the lifespan."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from app.api.errors import install_error_handlers
from app.api.routes import generate, images, info, jobs, search
from app.config import Settings
from app.services import Services

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the ASGI app. Tests pass ready `services`; production opens them from settings."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or Services.open(settings)
        try:
            await app.state.services.start()
            yield
        finally:
            await app.state.services.stop(close_store=owned)

    app = FastAPI(
        title="Clippy",
        version="0.1.0",
        summary="Find reference images by sketch, text and example; generate from them.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)

    @app.middleware("http")
    async def request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid
        response = await call_next(request)
        response.headers["X-Request-ID"] = rid
        return response

    app.include_router(search.router)
    app.include_router(images.router)
    app.include_router(info.router)
    app.include_router(generate.router)
    app.include_router(jobs.router)
    return app
