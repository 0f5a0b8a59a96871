"""A tiny library with planted duplicates, ingested once per module into the embedded store.

Pictures use only the shape kinds (circle, square, triangle): with random tiny-model
weights the text and noise kinds embed almost on top of each other (cosine ≈ 0.999), which
would blur a near-duplicate threshold.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item, read_manifest
from app.services import Services
from app.storage.edge import EdgeStore
from app.storage.schema import content_sha256, point_id
from tests.support.images import SHAPE_TAGS, near_copy, shape_image
from tests.support.settings import tiny_settings


def build_library(tmp: Path, encoders: Encoders, n: int = 9) -> dict[str, Any]:
    root = tmp / "images"
    rows = []
    for i in range(n):
        kind = i % 3
        rel = f"{SHAPE_TAGS[kind][0]}/img_{i:02d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shape_image(kind, i).save(root / rel)
        rows.append({"path": rel, "tags": [*SHAPE_TAGS[kind], "big" if i % 2 else "small"]})
    (root / "planted").mkdir()
    shutil.copyfile(root / rows[1]["path"], root / "planted/exact_copy.png")
    (root / "planted/near_copy.jpg").write_bytes(near_copy(root / rows[0]["path"]))
    rows.append({"path": "planted/exact_copy.png", "tags": ["square", "copy"]})
    rows.append({"path": "planted/near_copy.jpg", "tags": ["circle", "copy"]})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    settings = tiny_settings(tmp, IMAGES_ROOT=root)
    store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
    main = Ingestor(encoders, store, IngestOptions(images_root=root)).run(read_manifest(root / "manifest.jsonl"))
    # The exact copy in the same library is the same point: ingestion skips it.
    assert main.ingested == n + 1 and main.skipped == 1, main.summary()
    # The same content in another library is another point: an exact duplicate across libraries.
    other = Ingestor(encoders, store, IngestOptions(library="other", images_root=root)).run(
        [Item(root / "planted/exact_copy.png", ["square"])]
    )
    assert other.ingested == 1

    def pid(rel: str, library: str = "default") -> str:
        return point_id(content_sha256((root / rel).read_bytes()), library)

    return {"settings": settings, "store": store, "root": root, "rows": rows, "pid": pid}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders) -> Iterator[dict[str, Any]]:
    lib = build_library(tmp_path_factory.mktemp("planted"), encoders)
    yield lib
    lib["store"].close()


@pytest.fixture(scope="module")
def client(planted: dict[str, Any], encoders: Encoders) -> Iterator[TestClient]:
    services = Services.open(planted["settings"], encoders=encoders, store=planted["store"])
    with TestClient(create_app(planted["settings"], services)) as c:
        yield c
