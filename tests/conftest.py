"""Shared fixtures: a tiny random-weight OpenCLIP model, both store backends, images."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

# Two threads on a busy 2-core machine made the same tests ~20x slower (shared notes).
torch.set_num_threads(1)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from app.config import Settings  # noqa: E402
from app.embedding import Encoders, load_encoders  # noqa: E402
from app.storage import VectorStore  # noqa: E402
from app.storage.edge import EdgeStore  # noqa: E402
from app.storage.remote import RemoteStore, connect  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
TINY_MODEL = {
    "MODEL_CONFIGS": str(FIXTURES / "model_configs"),
    "MODEL_NAME": "clippy-tiny",
    "PRETRAINED": "random",
    "TEXT_MODEL": "clip",
    "DEVICE": "cpu",
}


def tiny_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        **TINY_MODEL,
        "QDRANT_PATH": tmp_path / "qdrant",
        "THUMBS_ROOT": tmp_path / "thumbs",
        "IMAGES_ROOT": tmp_path / "images",
        "AUTO_INGEST": False,
        "EMBED_CACHE_PATH": tmp_path / "embed_cache.sqlite",
        "ENVIRONMENT": "test",
        # A test that stops its app with a job still running need not wait out the
        # production drain; the shutdown tests set their own.
        "JOB_DRAIN_S": 1,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def encoders(tmp_path_factory: pytest.TempPathFactory) -> Encoders:
    torch.manual_seed(0)
    return load_encoders(tiny_settings(tmp_path_factory.mktemp("enc")))


@pytest.fixture(params=["edge", "client"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """Builds a store of each backend; the same test runs on both (congruence)."""
    opened: list[VectorStore] = []

    def make(collection: str = "test") -> VectorStore:
        store: VectorStore
        if request.param == "edge":
            store = EdgeStore(tmp_path / "qdrant", collection)
        else:
            store = RemoteStore(connect(f"local:{tmp_path / 'qlocal'}", None), collection)
        opened.append(store)
        return store

    make.backend = request.param  # type: ignore[attr-defined]
    yield make
    for store in opened:
        store.close()


def shape_image(kind: int, seed: int, size: int = 96) -> Image.Image:
    """A synthetic picture: one of several shapes, position/colour varied by seed."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(200, 256, 3)))
    draw = ImageDraw.Draw(img)
    colour = tuple(int(c) for c in rng.integers(0, 160, 3))
    x0, y0 = (int(v) for v in rng.integers(5, size // 3, 2))
    x1, y1 = (int(v) for v in rng.integers(2 * size // 3, size - 5, 2))
    match kind % 5:
        case 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour, outline=(0, 0, 0), width=2)
        case 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour, outline=(0, 0, 0), width=2)
        case 2:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=colour, outline=(0, 0, 0))
        case 3:
            draw.text((x0, y0), f"T{seed}", fill=colour)
            draw.line((x0, y1, x1, y0), fill=colour, width=4)
        case _:
            noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            img = Image.fromarray(noise)
    return img


SHAPE_TAGS = {
    0: ["circle", "round"],
    1: ["square", "box"],
    2: ["triangle", "pointy"],
    3: ["text", "line"],
    4: ["noise"],
}


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """100 generated images in sub-folders plus a manifest with tags."""
    import json

    root = tmp_path / "images"
    rows = []
    for i in range(100):
        kind = i % 5
        rel = Path(SHAPE_TAGS[kind][0]) / f"img_{i:03d}.png"
        (root / rel.parent).mkdir(parents=True, exist_ok=True)
        shape_image(kind, i).save(root / rel)
        rows.append({"path": str(rel), "tags": SHAPE_TAGS[kind]})
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root
