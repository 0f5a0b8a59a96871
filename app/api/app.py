"""The application factory: settings → model + store, opened once in the lifespan."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match, Mount
from starlette.types import Scope

from app.api.bodies import install_body_schemas
from app.api.errors import install_error_handlers
from app.api.middleware import install_operations
from app.api.openapi import install_openapi, operation_id
from app.api.routes import (
    atlas,
    compat,
    generate,
    images,
    imports,
    info,
    jobs,
    libraries,
    library,
    profile,
    rag,
    search,
    stories,
)
from app.api.security import guard_dependencies, install_security
from app.config import Settings
from app.embedding import Encoders, load_encoders
from app.errors import ClippyError
from app.generation.models import DescribeRequest, GenerateRequest
from app.search.models import HybridQuery
from app.services import Services
from app.stories.models import StoryboardRequest, StoryRequest
from app.telemetry import configure_tracing

log = logging.getLogger(__name__)

# Every router the API serves, in the order they are matched; the seeds' own request shapes
# (compat) come last, so that a route of Clippy's own always wins.
ROUTE_MODULES = (
    search,
    rag,
    images,
    atlas,
    info,
    generate,
    jobs,
    library,
    libraries,
    imports,
    profile,
    stories,
    compat,
)


def create_app(
    settings: Settings | None = None, services: Services | None = None, encoders: Encoders | None = None
) -> FastAPI:
    """Build the ASGI app. Tests pass ready `services`; production opens them from settings,
    with `encoders` when the entry point loaded them already (`load_encoders_or_exit`)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or Services.open(settings, encoders=encoders)
        if app.state.metrics is not None:  # generation stage timings → Prometheus
            app.state.services.stages.subscribe(app.state.metrics.observe_stage)
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
        # Readable, stable operation ids for generated clients (app/api/openapi.py).
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    configure_tracing(settings.OTEL_EXPORTER_OTLP_ENDPOINT, "clippy-api")
    install_error_handlers(app)
    # Request ids, body bound, access log, /metrics; then CORS, outermost (app/api/middleware.py).
    install_operations(app, settings)
    install_security(app, settings)

    for module in ROUTE_MODULES:
        app.include_router(module.router)
    # Routes that read JSON or multipart themselves: their JSON bodies, named in the schema.
    install_body_schemas(
        app, [HybridQuery, imports.ImportRequest, GenerateRequest, DescribeRequest, StoryRequest, StoryboardRequest]
    )
    # Every status each operation answers, errors as problem details (app/api/openapi.py).
    install_openapi(app, settings)
    mount_client(app, settings.CLIENT_DIST)
    return app


def load_encoders_or_exit(settings: Settings) -> Encoders:
    """The encoders, for an entry point to load before the server starts (`main.py`,
    `clippy serve`, `clippy demo`).

    Loaded in the lifespan, a weights problem would reach the console as a traceback; here
    it is its one message (which names MODEL_NAME / PRETRAINED and what to do) and exit
    status 2. In a uvicorn worker or reloader child the status is uvicorn's
    STARTUP_FAILURE (3), which stops the supervisor instead of restarting the child forever.
    """
    try:
        return load_encoders(settings)
    except ClippyError as e:
        log.error("%s", e.message)
        raise SystemExit(3 if multiprocessing.parent_process() is not None else 2) from None


class _ClientMount(Mount):
    """The static client answers GET and HEAD only. A mount at `/` fully matches every path, so
    without this a `PUT /search/hybrid` would reach the files (405, `Allow: GET, HEAD`) instead
    of the API route's own 405 naming POST."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("method") not in ("GET", "HEAD"):
            return Match.NONE, {}
        return super().matches(scope)


def mount_client(app: FastAPI, dist: Path) -> None:
    """Serve the built sketch client at `/` (after every API route, so those win)."""
    if (dist / "index.html").is_file():
        app.router.routes.append(_ClientMount("/", StaticFiles(directory=dist, html=True), name="client"))
    else:
        log.info("no client build at %s (run `make client`); serving the API only", dist)
