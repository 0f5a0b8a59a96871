"""Story fixtures: a tiny random LLaVA (tests/support/tiny_vlm.py) and a small library in the
embedded store, served by the real app (Services.open). No network, no downloaded weights."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item
from app.services import Services
from app.storage.edge import EdgeStore
from tests.support.images import SHAPE_TAGS, shape_image
from tests.support.settings import tiny_settings

torch.set_num_threads(1)


def library_world(tmp: Path, encoders: Encoders, **overrides: Any) -> dict[str, Any]:
    """Six shape pictures ingested into the embedded store, and settings for an app over it."""
    root = tmp / "images"
    items = []
    for i in range(6):
        path = root / f"img_{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        shape_image(i % 5, i).save(path)
        items.append(Item(path, list(SHAPE_TAGS[i % 5])))
    settings = tiny_settings(tmp, IMAGES_ROOT=root, GENERATED_ROOT=tmp / "generated", JOB_MAX_TRIES=1, **overrides)
    store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
    report = Ingestor(encoders, store, IngestOptions(images_root=root)).run(items)
    assert report.ingested == 6
    return {"settings": settings, "store": store, "ids": report.ids}


@pytest.fixture
def story_app(tmp_path: Path, encoders: Encoders, tiny_vlm: Path) -> Iterator[dict[str, Any]]:
    world = library_world(tmp_path, encoders, STORY_MODEL=str(tiny_vlm), STORY_MAX_TOKENS=8, MODEL_IDLE_UNLOAD_S=0)
    services = Services.open(world["settings"], encoders=encoders, store=world["store"])
    with TestClient(create_app(world["settings"], services)) as client:
        yield {**world, "client": client, "services": services}


@pytest.fixture(scope="session")
def tiny_sdxl_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from tests.support.tiny_sdxl import build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("tiny-sdxl")).env()


@pytest.fixture
def board_app(tmp_path: Path, encoders: Encoders, tiny_sdxl_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """The real app with the tiny SDXL + IP-Adapter as the image provider (64×64, 2 steps)."""
    world = library_world(tmp_path, encoders, **tiny_sdxl_env, SDXL_DEFAULT_STEPS=2, TOP_K_RETRIEVAL=4)
    services = Services.open(world["settings"], encoders=encoders, store=world["store"])
    with TestClient(create_app(world["settings"], services)) as client:
        yield {**world, "client": client, "services": services}
