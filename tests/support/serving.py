"""An app with only the generation and job routers: their dependencies overridden, with no
library store behind them (FastAPI's `dependency_overrides`, not a stand-in `Services`)."""

from __future__ import annotations

from fastapi import FastAPI

from app.api import deps
from app.config import Settings
from app.generation.service import GenerationService
from app.imaging import ImageSlots
from app.jobs import JobQueue
from app.library.access import OPERATOR, LibraryScope


def serve_generation(app: FastAPI, generation: GenerationService, jobs: JobQueue, settings: Settings) -> None:
    """An operator caller, and library refs by id through generation's own resolver."""
    app.dependency_overrides[deps.get_generation] = lambda: generation
    app.dependency_overrides[deps.get_jobs] = lambda: jobs
    app.dependency_overrides[deps.get_scope] = lambda: LibraryScope.build(OPERATOR, (), settings.DEFAULT_LIBRARY)
    app.dependency_overrides[deps.get_library_resolver] = lambda: generation.resolve_library_image
    slots = ImageSlots(settings.IMAGE_SLOTS, settings.IMAGE_SLOT_WAIT_S)
    app.dependency_overrides[deps.get_image_slots] = lambda: slots
