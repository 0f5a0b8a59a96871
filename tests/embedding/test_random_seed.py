"""PRETRAINED=random draws the towers from RANDOM_SEED: processes agree, collections record it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.embedding import Encoders, load_encoders
from app.errors import ModelMismatchError
from app.storage.edge import EdgeStore
from app.storage.schema import CollectionSchema, check_space
from tests.support.images import shape_image
from tests.support.settings import TINY_MODEL, tiny_settings

REPO = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: ingest the folder given as argv[1] into the store at argv[2]
# with RANDOM_SEED=argv[3], then print the `image` vector of the first picture.
_INGEST = """
import json, sys
from pathlib import Path
from app.config import Settings
from app.embedding import load_encoders
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import scan_folder
from app.storage.edge import EdgeStore
root, qdrant, seed = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
settings = Settings(_env_file=None, **json.loads(sys.argv[4]), QDRANT_PATH=qdrant, RANDOM_SEED=seed)
encoders = load_encoders(settings)
store = EdgeStore(qdrant, settings.COLLECTION)
report = Ingestor(encoders, store, IngestOptions(images_root=root, workers=1)).run(list(scan_folder(root)))
store.close()
print(json.dumps({"seed": encoders.space()["seed"], "ingested": report.ingested}))
"""


def _ingest_in_another_process(root: Path, qdrant: Path, seed: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _INGEST, str(root), str(qdrant), str(seed), json.dumps(TINY_MODEL)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("seeded") / "images"
    root.mkdir()
    for i in range(6):
        shape_image(i % 5, i).save(root / f"p{i}.png")
    return root


def test_the_same_seed_gives_the_same_weights_whatever_the_global_generator_did(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(123)
    a = load_encoders(tiny_settings(tmp_path, RANDOM_SEED=7))
    torch.manual_seed(456)
    b = load_encoders(tiny_settings(tmp_path, RANDOM_SEED=7))
    c = load_encoders(tiny_settings(tmp_path, RANDOM_SEED=8))
    img = shape_image(1, 3)
    va, vb, vc = (e.clip.encode_images([img])[0] for e in (a, b, c))
    np.testing.assert_array_equal(va, vb)
    assert float(va @ vc) < 0.999, "another seed is another model"
    assert a.space()["seed"] == 7 and c.space()["seed"] == 8


def test_ingest_in_another_process_is_found_by_this_one(pictures: Path, tmp_path: Path, encoders: Encoders) -> None:
    """`clippy ingest` and `clippy serve` are two processes: the served model must reproduce
    the stored vectors exactly (before seeding they were two unrelated random models)."""
    from app.api.app import create_app
    from app.services import Services

    qdrant = tmp_path / "qdrant"
    assert _ingest_in_another_process(pictures, qdrant, seed=0) == {"seed": 0, "ingested": 6}
    assert encoders.space()["seed"] == 0, "the shared test model uses the default RANDOM_SEED"
    settings = tiny_settings(tmp_path, IMAGES_ROOT=pictures, QDRANT_PATH=qdrant)
    store = EdgeStore(qdrant, settings.COLLECTION)
    try:
        points, _ = store.scroll(limit=10, with_vectors=["image"])
        by_path = {p.payload["path"]: np.asarray(p.vectors["image"]) for p in points}
        for path, stored in by_path.items():
            fresh = encoders.clip.encode_images([shape_image(int(path[1]) % 5, int(path[1]))])[0]
            assert float(fresh @ stored) > 0.9999, f"{path}: the other process held another model"
        services = Services.open(settings, encoders=encoders, store=store)
        assert services.space.problem is None
        with TestClient(create_app(settings, services)) as c:
            r = c.post("/search/hybrid", json={**_ONLY_IMAGE, "limit": 1, "image": _data_url(4)})
            assert r.status_code == 200, r.text
            assert r.json()["hits"][0]["path"] == "p4.png"
    finally:
        store.close()


def test_a_collection_of_another_seed_is_refused_with_409(pictures: Path, tmp_path: Path) -> None:
    from app.api.app import create_app
    from app.services import Services

    qdrant = tmp_path / "qdrant"
    _ingest_in_another_process(pictures, qdrant, seed=0)
    settings = tiny_settings(tmp_path, IMAGES_ROOT=pictures, QDRANT_PATH=qdrant, RANDOM_SEED=1)
    other = load_encoders(settings)
    store = EdgeStore(qdrant, settings.COLLECTION)
    try:
        services = Services.open(settings, encoders=other, store=store)
        with TestClient(create_app(settings, services)) as c:
            r = c.post("/search/hybrid", json={"queryText": "x"})
            assert r.status_code == 409
            assert "seed" in r.text and "RANDOM_SEED" in r.text
    finally:
        store.close()


_ONLY_IMAGE = {"wImg": 1.0, "wEdge": 0.0, "wTxt": 0.0, "wShape": 0.0, "wTags": 0.0}


def _data_url(i: int) -> str:
    import base64
    import io

    buf = io.BytesIO()
    shape_image(i % 5, i).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_a_random_collection_recorded_without_a_seed_must_be_re_ingested(encoders: Encoders) -> None:
    older = {k: v for k, v in encoders.space().items() if k != "seed"}  # written before seeds were recorded
    with pytest.raises(ModelMismatchError, match="re-ingest") as refused:
        check_space("old", older, encoders.space(), writing=False)
    assert "cannot be reproduced" in refused.value.message
    assert refused.value.details["differences"] == {"seed": {"collection": None, "running": 0}}


def test_real_weights_record_no_seed_so_their_collections_are_unchanged(encoders: Encoders) -> None:
    real = {**encoders.space(), "pretrained": "laion2b_s34b_b79k", "seed": None}
    before = {k: v for k, v in real.items() if k != "seed"}  # a collection written before seeds
    check_space("c", before, real, writing=True)  # no error: nothing differs


def test_the_schema_keeps_the_seed(encoders: Encoders, tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "q", "c")
    store.ensure(CollectionSchema(encoders.clip.dim, encoders.text.dim, encoders.space()), writing=True)
    assert (store.space() or {})["seed"] == 0
    store.close()
