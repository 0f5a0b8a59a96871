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
