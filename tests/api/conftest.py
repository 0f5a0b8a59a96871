from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest
from app.services import Services
from app.storage.edge import EdgeStore
from tests.support.images import SHAPE_TAGS, shape_image
from tests.support.settings import tiny_settings


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders) -> Iterator[dict[str, Any]]:
    """30 shape pictures with tags, ingested once per module into the embedded store."""
    import json

    tmp = tmp_path_factory.mktemp("lib")
    root = tmp / "images"
    rows = []
    for i in range(30):
        kind = i % 5
        rel = f"{SHAPE_TAGS[kind][0]}/img_{i:02d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shape_image(kind, i).save(root / rel)
        rows.append({"path": rel, "tags": [*SHAPE_TAGS[kind], "big" if i % 2 else "small"], "source": f"set{i % 3}"})
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    settings = tiny_settings(tmp, IMAGES_ROOT=root)
    store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
    report = Ingestor(encoders, store, IngestOptions(images_root=root)).run(read_manifest(root / "manifest.jsonl"))
    assert report.ingested == 30
    yield {"settings": settings, "store": store, "root": root, "ids": report.ids, "rows": rows}
    store.close()


@pytest.fixture(scope="module")
def client(library: dict[str, Any], encoders: Encoders) -> Iterator[TestClient]:
    services = Services.open(library["settings"], encoders=encoders, store=library["store"])
    with TestClient(create_app(library["settings"], services)) as c:
        yield c
