"""Shared fixtures: a tiny random-weight OpenCLIP model, both store backends, images, a Redis
server. The helpers tests import by name are in tests/support/."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

# Two threads on a busy 2-core machine made the same tests ~20x slower (shared notes).
torch.set_num_threads(1)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from app.embedding import Encoders, load_encoders  # noqa: E402
from app.storage import VectorStore  # noqa: E402
from app.storage.edge import EdgeStore  # noqa: E402
from app.storage.remote import RemoteStore, connect  # noqa: E402
from tests.support.images import SHAPE_TAGS, shape_image  # noqa: E402
from tests.support.jobs import free_port  # noqa: E402
from tests.support.settings import tiny_settings  # noqa: E402
from tests.support.tiny_blip import build_tiny_blip  # noqa: E402
from tests.support.tiny_vlm import build_tiny_vlm  # noqa: E402


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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on loopback (install: apt-get install -y redis-server)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BLIP captioner (the describe tests and the fuzzer's /images/describe)."""
    return build_tiny_blip(tmp_path_factory.mktemp("tiny-blip"))


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random LLaVA (vision tower + Llama) with a chat template, for the story tests."""
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"))
