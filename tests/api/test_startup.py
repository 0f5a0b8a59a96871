"""Start-up: a weights problem is one message and exit status 2; AUTO_INGEST finishes the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.api.app import load_encoders_or_exit
from app.embedding import Encoders
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest
from app.services import Services
from app.storage.edge import EdgeStore
from tests.support.images import shape_image
from tests.support.settings import TINY_MODEL, tiny_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.timeout(180)
def test_uvicorn_with_missing_weights_exits_2_with_the_reason_and_no_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        **TINY_MODEL,
        "MODEL_NAME": "no-such-model",
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "AUTO_INGEST": "false",
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    cmd = [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", "0"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=170)
    log = out.stdout + out.stderr
    assert out.returncode == 2, log[-3000:]
    assert "MODEL_NAME='no-such-model'" in log and "MODEL_CONFIGS" in log, "the message says what to change"
    assert "Traceback" not in log


def test_load_encoders_or_exit_turns_a_weights_error_into_status_2(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = tiny_settings(tmp_path, PRETRAINED=str(tmp_path / "missing.safetensors"))
    with pytest.raises(SystemExit) as e:
        load_encoders_or_exit(settings)
    assert e.value.code == 2
    assert "PRETRAINED" in caplog.text


def _sample(root: Path, n: int) -> Path:
    root.mkdir(parents=True)
    rows = []
    for i in range(n):
        shape_image(i % 5, 100 + i).save(root / f"s{i}.png")
        rows.append({"path": f"s{i}.png", "tags": ["sample"]})
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


@pytest.mark.anyio
async def test_auto_ingest_finishes_a_sample_library_a_first_run_left_half_done(
    tmp_path: Path, encoders: Encoders, caplog: pytest.LogCaptureFixture
) -> None:
    root = _sample(tmp_path / "sample", 6)
    settings = tiny_settings(tmp_path, IMAGES_ROOT=root, AUTO_INGEST=True)
    store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
    try:
        # A first run killed after three images.
        items = list(read_manifest(root / "manifest.jsonl"))
        Ingestor(encoders, store, IngestOptions(images_root=root)).run(items[:3])
        assert store.count() == 3
        services = Services.open(settings, encoders=encoders, store=store)
        await services.start()
        assert store.count() == 6 and services.ready
        await services.stop(close_store=False)
        # Everything there: the next start does not read the files at all.
        for item in items:
            item.path.unlink()
        caplog.clear()
        services = Services.open(settings, encoders=encoders, store=store)
        await services.start()
        assert store.count() == 6 and services.ready
        assert "AUTO_INGEST failed" not in caplog.text, "no file was read"
        await services.stop(close_store=False)
        # Seeded to the end: an image deleted from the library stays deleted on the next start.
        for item in items:
            shape_image(0, 1).save(item.path)  # even with the files back
        points, _ = store.scroll(None, limit=1)
        store.delete([points[0].id])
        services = Services.open(settings, encoders=encoders, store=store)
        await services.start()
        assert store.count() == 5 and services.ready
        await services.stop(close_store=False)
    finally:
        store.close()
