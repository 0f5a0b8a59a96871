"""The real app (create_app + Services) serves generation and jobs, refs resolved by library id."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest
from app.services import Services
from app.storage.edge import EdgeStore
from tests.conftest import shape_image, tiny_settings
from tests.generation.conftest import poll


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
