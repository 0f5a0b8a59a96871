"""The RAVSG seed's (001) story API as its README documents it, on the tiny VLM:
POST /generate-story {"image": data URL} → {"job_id", "status": "pending"}; GET /job/{id} →
{"job_id", "status": "completed", "result": {"story": "…"}}."""

from __future__ import annotations

import time
from typing import Any

from tests.support.generation import data_url


def test_the_seed_story_request_queues_a_story_job_and_polls_to_the_story(story_app: dict[str, Any]) -> None:
    client = story_app["client"]
    queued = client.post("/generate-story", json={"image": data_url((30, 160, 30))})
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert set(body) >= {"job_id", "status"} and body["status"] == "pending" and body["job_id"]
    deadline = time.monotonic() + 60
    while (job := client.get(f"/job/{body['job_id']}").json())["status"] in ("pending", "processing"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert job["status"] == "completed" and job["job_id"] == body["job_id"], job
    assert list(job["result"]) == ["story"] and isinstance(job["result"]["story"], str) and job["result"]["story"]
    # The same job in Clippy's own shape carries the structured story, filed in the story index.
    own = client.get(f"/jobs/{body['job_id']}").json()
    assert own["kind"] == "story" and own["result"]["storyId"]
    assert " ".join(own["result"]["story"]["paragraphs"]) in job["result"]["story"]


def test_the_seed_story_request_refuses_what_is_not_a_picture(story_app: dict[str, Any]) -> None:
    answer = story_app["client"].post("/generate-story", json={"image": "data:image/png;base64,..."})
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/problem+json")


def test_the_seed_image_request_makes_a_grounded_picture_of_the_story(
    tmp_path: Any, encoders: Any, tiny_sdxl_env: dict[str, str]
) -> None:
    import base64
    import io

    from fastapi.testclient import TestClient
    from PIL import Image

    from app.api.app import create_app
    from app.services import Services
    from tests.stories.conftest import library_world

    # The seed sends no size: the picture is /images/generate's default, 1024², which the tiny
    # SDXL makes in seconds.
    world = library_world(tmp_path, encoders, **{**tiny_sdxl_env, "SDXL_MAX_SIDE": "1024"}, SDXL_DEFAULT_STEPS=1)
    services = Services.open(world["settings"], encoders=encoders, store=world["store"])
    with TestClient(create_app(world["settings"], services)) as client:
        queued = client.post("/generate-image", json={"story": "A magical forest at sunset..."})
        assert queued.status_code == 202 and queued.json() == {
            "job_id": queued.json()["job_id"],
            "status": "pending",
            "result": None,
            "error": None,
        }
        deadline = time.monotonic() + 240
        while (job := client.get(f"/job/{queued.json()['job_id']}").json())["status"] in ("pending", "processing"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        own = client.get(f"/jobs/{job['job_id']}").json()
    assert job["status"] == "completed", job
    data = job["result"]["image"]
    assert data.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))) as img:
        assert img.size == (1024, 1024)
    (frame,) = own["result"]["frames"]
    # Grounded on the library (retrieval on), and filed in it as the seed's image index does.
    assert frame["refs"] and {r["tier"] for r in frame["refs"]} <= {"generated", "library"} and frame["id"]
