"""The application factory: settings → model + store, opened once in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api.errors import install_error_handlers
from app.api.middleware import install_operations
from app.api.routes import generate, images, imports, info, jobs, library, rag, search
from app.api.security import guard_dependencies, install_security
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
        # API keys and rate limits on every route (app/api/security.py).
        dependencies=guard_dependencies(settings),
    )
    app.state.settings = settings
    install_error_handlers(app)
    # Request ids, body bound, access log, /metrics; then CORS, outermost (app/api/middleware.py).
    install_operations(app, settings)
    install_security(app, settings)

    app.include_router(search.router)
    app.include_router(rag.router)
    app.include_router(images.router)
    app.include_router(info.router)
    app.include_router(generate.router)
    app.include_router(jobs.router)
    app.include_router(library.router)
    app.include_router(imports.router)
    mount_client(app, settings.CLIENT_DIST)
    return app


def mount_client(app: FastAPI, dist: Path) -> None:
    """Serve the built sketch client at `/` (after every API route, so those win)."""
    if (dist / "index.html").is_file():
        app.mount("/", StaticFiles(directory=dist, html=True), name="client")
    else:
        log.info("no client build at %s (run `make client`); serving the API only", dist)
