"""POST /stories → a `story` job on the tiny VLM → the story filed in the story index;
GET /stories?query= finds it."""

from __future__ import annotations

from typing import Any

from tests.support.generation import data_url, png, poll


def test_a_picture_becomes_a_story_that_search_finds(story_app: dict[str, Any]) -> None:
    client = story_app["client"]
    by_url = client.post("/stories", json={"image": data_url((200, 30, 30)), "prompt": "for children"})
    assert by_url.status_code == 202, by_url.text
    assert by_url.headers["Location"] == f"/jobs/{by_url.json()['id']}" and by_url.json()["kind"] == "story"
    done = poll(client, by_url.headers["Location"], "succeeded", "failed")
    assert done["status"] == "succeeded", done
    result = done["result"]
    assert result["story"]["paragraphs"] and result["provider"] == "transformers"
    assert set(result["timings"]) == {"load", "inference", "index"}
    story_id = result["storyId"]

    by_id = client.post("/stories", json={"id": story_app["ids"][0]})
    by_file = client.post("/stories", files={"image": ("a.png", png((9, 9, 200)), "image/png")})
    for answer in (by_id, by_file):
        assert answer.status_code == 202, answer.text
        assert poll(client, answer.headers["Location"], "succeeded", "failed")["status"] == "succeeded"

    found = client.get("/stories", params={"query": " ".join(result["story"]["paragraphs"])[:400], "limit": 5})
    assert found.status_code == 200, found.text
    hits = found.json()["hits"]
    assert len(hits) == 3
    # Its own text finds the story first (a tie only with a story of the very same text).
    mine = next(h for h in hits if h["id"] == story_id)
    assert mine["score"] == hits[0]["score"] and mine["story"] == result["story"]
    assert hits[0]["story"]["paragraphs"] == result["story"]["paragraphs"]
    sources = {h["sourceImageId"] for h in hits}
    assert sources == {None, story_app["ids"][0]}
    assert {h["library"] for h in hits} == {"default"}


def test_bad_story_requests_are_4xx(story_app: dict[str, Any]) -> None:
    client = story_app["client"]
    none = client.post("/stories", json={})
    both = client.post("/stories", json={"image": data_url((1, 2, 3)), "id": story_app["ids"][0]})
    unknown = client.post("/stories", json={"id": "nope"})
    broken = client.post("/stories", json={"image": "data:image/png;base64,AAAA"})
    empty_query = client.get("/stories", params={"query": ""})
    assert none.status_code == both.status_code == 422 and "exactly one" in none.json()["detail"]
    assert unknown.status_code == 404
    assert broken.status_code in (415, 422)
    assert empty_query.status_code == 422
    for r in (none, unknown, empty_query):
        assert r.headers["content-type"].startswith("application/problem+json")


def test_story_jobs_report_their_stages_as_prometheus_metrics(story_app: dict[str, Any]) -> None:
    client = story_app["client"]
    queued = client.post("/stories", json={"image": data_url((10, 20, 30))})
    assert poll(client, queued.headers["Location"], "succeeded", "failed")["status"] == "succeeded"
    text = client.get("/metrics").text
    for stage in ("load", "inference", "index"):
        assert f'clippy_generation_stage_seconds_count{{kind="story",stage="{stage}"}} 1.0' in text, stage
    assert 'clippy_generation_duration_seconds_count{kind="story"} 1.0' in text
