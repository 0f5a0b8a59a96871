"""The real app (create_app + Services) serves generation and jobs, refs resolved by library id;
on Redis, a worker built like `python -m app.jobs.worker` runs the API's `import` and
`addToLibrary` jobs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.errors import ConflictError
from app.generation.google import png_bytes
from app.generation.models import GenerateRequest
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest
from app.services import Services, WorkerServices, build_generation_and_jobs
from app.storage import open_store
from app.storage.edge import EdgeStore
from tests.support.generation import poll
from tests.support.images import shape_image
from tests.support.settings import tiny_settings


def test_the_app_generates_from_a_library_ref_end_to_end(
    tmp_path: Path, encoders: Encoders, tiny_env: dict[str, str]
) -> None:
    root = tmp_path / "images"
    root.mkdir()
    shape_image(0, 1).save(root / "circle.png")
    (root / "manifest.jsonl").write_text(json.dumps({"path": "circle.png", "tags": ["circle"]}))
    settings = tiny_settings(
        tmp_path, IMAGES_ROOT=root, GENERATED_ROOT=tmp_path / "generated", SDXL_DEFAULT_STEPS=2, **tiny_env
    )
    store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
    try:
        report = Ingestor(encoders, store, IngestOptions(images_root=root)).run(read_manifest(root / "manifest.jsonl"))
        (library_id,) = report.ids
        services = Services.open(settings, encoders=encoders, store=store)
        with TestClient(create_app(settings, services)) as client:
            body = {"prompt": "a circle", "width": 64, "height": 64, "seed": 1}
            response = client.post("/images/generate", json={**body, "refs": [{"role": "subject", "id": library_id}]})
            assert response.status_code == 202, response.text
            assert response.headers["x-request-id"]
            done = poll(client, response.headers["location"], "succeeded", "failed")
            assert done["status"] == "succeeded", done
            assert client.get(done["result"]["images"][0]["url"]).status_code == 200

            added = client.post("/images/generate", json={**body, "prompt": "zebra stripes", "addToLibrary": True})
            done = poll(client, added.headers["location"], "succeeded", "failed")
            assert done["status"] == "succeeded", done
            new_id = done["result"]["images"][0]["id"]
            assert new_id and client.get(f"/image/{new_id}").status_code == 200
            hits = client.post("/search/hybrid", json={"queryText": "zebra stripes", "limit": 5}).json()["hits"]
            found = next(hit for hit in hits if hit["id"] == new_id)
            assert "generated" in found["tags"] and "zebra" in found["tags"]

            for missing in (str(uuid.uuid4()), "not-a-uuid"):
                refused = client.post("/images/generate", json={**body, "refs": [{"role": "style", "id": missing}]})
                assert refused.status_code == 404, refused.text
            paths = client.get("/openapi.json").json()["paths"]
            assert {"/images/generate", "/jobs/{job_id}", "/generated/{name}", "/images/describe"} <= set(paths)
    finally:
        store.close()


@contextlib.contextmanager
def worker_thread(settings: Any, services: WorkerServices) -> Iterator[None]:
    """An arq worker on its own thread and event loop, as `python -m app.jobs.worker` runs."""
    from app.jobs.worker import build_worker

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def run() -> None:
        # Built inside its loop: arq's Worker binds to the loop it is created in.
        worker = build_worker(
            settings, services.handlers, on_startup=services.start, handle_signals=False, poll_delay=0.02
        )
        stop = box["stop"] = asyncio.Event()
        ready.set()
        task = asyncio.create_task(worker.async_run())
        await stop.wait()
        await worker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    runner = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    runner.start()
    assert ready.wait(timeout=30)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        runner.join(timeout=30)
        assert not runner.is_alive(), "the worker did not stop"
        loop.close()


def test_the_redis_worker_runs_imports_and_add_to_library_with_the_apis_handlers(
    tmp_path: Path, encoders: Encoders, tiny_env: dict[str, str], redis_url: str
) -> None:
    root = tmp_path / "images"
    root.mkdir()
    settings = tiny_settings(
        tmp_path,
        IMAGES_ROOT=root,
        GENERATED_ROOT=tmp_path / "generated",
        SDXL_DEFAULT_STEPS=2,
        REDIS_URL=redis_url,
        JOB_QUEUE_NAME=f"clippy-wiring:{time.monotonic_ns()}",
        # A store a worker process can open too; one client here, shared by both sides.
        QDRANT_URL=f"local:{tmp_path / 'qlocal'}",
        JOB_DRAIN_S=0,
        **tiny_env,
    )
    store = open_store(settings)
    try:
        api = Services.open(settings, encoders=encoders, store=store)
        assert api.jobs is not None and api.jobs.durable
        worker_side = WorkerServices.open(settings, encoders=encoders, store=store)
        assert (
            worker_side.handlers.kinds
            == api.handlers.kinds
            == ["duplicates", "generate", "import", "story", "storyboard"]
        )
        assert worker_side.generation.add_to_library is not None
        with worker_thread(settings, worker_side), TestClient(create_app(settings, api)) as client:
            body = {"prompt": "zebra stripes", "width": 64, "height": 64, "seed": 1, "addToLibrary": True}
            added = client.post("/images/generate", json=body)
            assert added.status_code == 202, added.text
            files = [("files", ("c.png", png_bytes(shape_image(1, 3)), "image/png"))]
            imported = client.post("/libraries/default/imports", files=files, data={"tags": "kite"})
            assert imported.status_code == 202, imported.text

            done = poll(client, added.headers["location"], "succeeded", "failed")
            job = poll(client, imported.headers["location"], "succeeded", "failed")
            assert done["status"] == "succeeded", done
            assert job["status"] == "succeeded", job
            # Read once both are written: the local-mode client both sides share has no lock.
            new_id = done["result"]["images"][0]["id"]
            assert new_id and client.get(f"/image/{new_id}").status_code == 200
            assert job["result"]["ingested"] == 1
            hits = client.post("/search/hybrid", json={"queryText": "zebra stripes", "limit": 5}).json()["hits"]
            assert new_id in [hit["id"] for hit in hits]
    finally:
        store.close()


def test_without_qdrant_url_the_worker_runs_generation_only_and_the_api_refuses_add_to_library(
    tmp_path: Path, tiny_env: dict[str, str], redis_url: str
) -> None:
    settings = tiny_settings(tmp_path, GENERATED_ROOT=tmp_path / "generated", REDIS_URL=redis_url, **tiny_env)
    worker_side = WorkerServices.open(settings)
    assert worker_side.handlers.kinds == ["generate", "story", "storyboard"] and worker_side.library is None
    generation, jobs = build_generation_and_jobs(settings, add_to_library=lambda path, tags, source, library: "x")
    with pytest.raises(ConflictError, match="QDRANT_URL"):
        generation.check(GenerateRequest(prompt="a kite", addToLibrary=True), [])
    assert jobs.durable
