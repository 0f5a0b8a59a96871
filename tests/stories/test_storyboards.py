"""POST /storyboards on the tiny SDXL: frames grounded on earlier frames, attribution, frames in
the library; retrieval off gives no refs. And the pure parts: beats and the ref plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.search.decompose import Decomposer
from app.stories.beats import deal, split_beats
from app.stories.models import Story
from app.stories.storyboard import Candidate, frame_prompt, plan_refs, similarity_weight
from tests.support.generation import poll

# The example story scripts/storyboard_consistency.py tells by default.
STORY = json.loads((Path(__file__).resolve().parents[2] / "assets" / "stories" / "fox_and_owl.json").read_text())


def board(client: Any, **overrides: Any) -> dict[str, Any]:
    body = {"story": STORY, "frames": 4, "width": 64, "height": 64, "seed": 7, **overrides}
    body = {k: v for k, v in body.items() if v is not None}
    queued = client.post("/storyboards", json=body)
    assert queued.status_code == 202, queued.text
    assert queued.headers["Location"] == f"/jobs/{queued.json()['id']}" and queued.json()["kind"] == "storyboard"
    done = poll(client, queued.headers["Location"], "succeeded", "failed", timeout=240)
    assert done["status"] == "succeeded", done
    result: dict[str, Any] = done["result"]
    return result


def test_each_frame_takes_the_frames_that_introduced_its_subjects(board_app: dict[str, Any]) -> None:
    client, store = board_app["client"], board_app["store"]
    result = board(client)
    frames = result["frames"]
    assert [f["subjects"] for f in frames] == [["fox"], ["fox", "owl"], ["owl"], ["fox", "owl"]]
    assert all("setting: a misty forest" in f["prompt"] for f in frames)
    introduced = {"fox": 0, "owl": 1}
    for f in frames:
        refs = f["refs"]
        assert len(refs) <= 4
        earlier = [r for r in refs if r["tier"] == "storyboard"]
        assert all(r["frame"] < f["index"] for r in earlier)
        subject_frames = {r["frame"] for r in earlier if r["role"] == "subject"}
        expected = {introduced[s] for s in f["subjects"] if introduced[s] < f["index"]}
        assert subject_frames == expected, (f["index"], refs)
        if f["index"] > 0:
            # The first frame is a ref of every later one (the style, or the subject it introduced).
            assert any(r["frame"] == 0 for r in earlier)
        for r in refs:
            assert 0.3 <= r["weight"] <= 0.9 and r["weight"] == pytest.approx(
                similarity_weight(r["similarity"]), abs=1e-3
            )
            assert r["reason"]
    # Frame 0 has no earlier frames: only library images, as `style` hints, the owner's generations first.
    assert all(r["tier"] in ("generated", "library") and r["role"] == "style" for r in frames[0]["refs"])
    # Frames are in the library with their storyboard payload, and their sidecars keep the attribution.
    ids = [f["id"] for f in frames]
    assert all(ids)
    points = {p.id: p.payload for p in store.retrieve(ids)}
    for f in frames:
        payload = points[f["id"]]
        assert payload["storyboardId"] == result["storyboardId"] and payload["frameIndex"] == f["index"]
        assert payload["beat"] == f["beat"] and payload.get("storyId") is None and "storyboard" in payload["tags"]
        sidecar = client.get(f["url"].replace(".png", ".json")).json()
        assert sidecar["attribution"] == f["refs"] and sidecar["seed"] == 7 + f["index"]
    assert set(result["timings"]) == {"load", "retrieval", "inference", "library"}

    # A second storyboard retrieves the first one's frames as the owner's generations.
    second = board(client, frames=1)
    retrieved = [r for r in second["frames"][0]["refs"] if r["tier"] == "generated"]
    assert retrieved and {r["id"] for r in retrieved} <= set(ids)


def test_retrieval_off_gives_no_refs(board_app: dict[str, Any]) -> None:
    result = board(board_app["client"], retrieval=False, frames=3, addToLibrary=False)
    assert [f["refs"] for f in result["frames"]] == [[], [], []]
    assert all(f["id"] is None for f in result["frames"])
    text = board_app["client"].get("/metrics").text
    assert 'clippy_generation_stage_seconds_count{kind="storyboard",stage="inference"} 3.0' in text
    assert 'clippy_generation_stage_seconds_count{kind="storyboard",stage="load"} 1.0' in text
    assert "clippy_rag_retrieval_seconds_count 3.0" in text


def test_bad_storyboard_requests_are_4xx(board_app: dict[str, Any]) -> None:
    client = board_app["client"]
    answers = [
        client.post("/storyboards", json={"frames": 2}),
        client.post("/storyboards", json={"story": STORY, "storyText": "x", "frames": 2}),
        client.post("/storyboards", json={"story": STORY, "frames": 99}),
        client.post("/storyboards", json={"story": STORY, "width": 65}),
        client.post("/storyboards", json={"storyId": "00000000-0000-0000-0000-000000000000"}),
    ]
    assert [a.status_code for a in answers] == [422, 422, 422, 422, 404], [a.text for a in answers]


def test_the_plan_prefers_the_introducing_frame_then_the_first_then_the_tiers() -> None:
    frames = [
        Candidate("storyboard", 0.2, frame=0, subjects=("fox",)),
        Candidate("storyboard", 0.9, frame=1, subjects=("fox", "owl")),
        Candidate("storyboard", 0.5, frame=2, subjects=("owl",)),
    ]
    others = [Candidate("library", 0.99, id="L"), Candidate("generated", 0.1, id="G")]
    plan = plan_refs(["owl", "fox"], [*others, *frames], 4)
    assert [(r.candidate.frame, r.candidate.id, r.role) for r in plan] == [
        (1, None, "subject"),  # introduced owl
        (0, None, "subject"),  # introduced fox (and is the first frame: not taken twice)
        (2, None, "style"),  # the rest by tier: storyboard, generated, library
        (None, "G", "style"),
    ]
    assert plan[0].weight == pytest.approx(0.3 + 0.6 * 0.9)
    assert plan_refs(["owl"], frames, 0) == []
    assert [r.candidate.frame for r in plan_refs([], frames, 1)] == [0]
    with pytest.raises(ValueError, match="limit"):
        plan_refs([], frames, -1)


def test_beats_deal_sentences_and_find_recurring_subjects() -> None:
    assert deal(["a.", "b.", "c.", "d.", "e."], 2) == ["a. b. c.", "d. e."]
    assert deal(["one, two"], 2) == ["one", "two"]
    assert deal(["x"], 3) == ["x", "x", "x"]
    story = Story(paragraphs=["A red fox lives in a forest. The fox meets an owl.", "The owl sleeps. The fox waits."])
    beats = split_beats(story, 2, Decomposer(None).decompose)
    assert [b.subjects for b in beats] == [("fox", "owl"), ("fox", "owl")]
    assert "featuring fox, owl" in frame_prompt(beats[0], story)


def test_a_storyboard_from_a_story_id_records_it_on_its_frames(board_app: dict[str, Any]) -> None:
    index = board_app["services"].stories.index
    story_id = index.add(Story.model_validate(STORY), source_image_id=None, library=None, owner=None, model="m")
    result = board(board_app["client"], storyId=story_id, story=None, frames=2)
    assert result["storyId"] == story_id and result["story"]["title"] == STORY["title"]
    points = board_app["store"].retrieve([f["id"] for f in result["frames"]])
    assert {p.payload["storyId"] for p in points} == {story_id}


def test_each_frame_shows_in_the_job_view_as_soon_as_it_is_made(
    board_app: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frame 1 waits (on an Event, not a clock) until the test has seen frame 0 in GET /jobs/{id}
    while the job still runs: the frames so far travel with the progress, as the result gives them."""
    import threading

    import anyio

    from app.generation.base import GenerationSpec, Hooks

    client, services = board_app["client"], board_app["services"]
    provider = services.storyboards.providers.get(services.storyboards.settings.GENERATION_PROVIDER)
    generate = provider.generate
    seen_first = threading.Event()
    gated: list[int] = []

    async def gated_generate(spec: GenerationSpec, hooks: Hooks) -> Any:
        if spec.seed != 7:  # every frame after the first (frame k has seed 7 + k)
            gated.append(spec.seed)
            # Waits off the event loop, so GET /jobs/{id} keeps answering; bounded, so a
            # regression fails the test below rather than hanging it.
            await anyio.to_thread.run_sync(seen_first.wait, 120)
        return await generate(spec, hooks)

    monkeypatch.setattr(provider, "generate", gated_generate)
    queued = client.post(
        "/storyboards", json={"story": STORY, "frames": 3, "width": 64, "height": 64, "seed": 7, "addToLibrary": False}
    )
    assert queued.status_code == 202, queued.text
    location = queued.headers["Location"]
    try:
        running = poll_until(
            client, location, lambda job: bool(((job["progress"] or {}).get("partial") or {}).get("frames"))
        )
    finally:
        seen_first.set()
    assert running["status"] == "running", running
    assert running["result"] is None
    assert running["progress"]["step"] == 1 and running["progress"]["total"] == 3
    (first,) = running["progress"]["partial"]["frames"]
    done = poll(client, location, "succeeded", "failed", timeout=240)
    assert done["status"] == "succeeded", done
    assert gated == [8, 9]
    # The frame shown early is the one the result gives, field for field.
    assert first == done["result"]["frames"][0]
    assert first["index"] == 0 and first["url"].startswith("/generated/")
    assert client.get(first["url"]).status_code == 200


def poll_until(client: Any, location: str, ready: Any, timeout: float = 240.0) -> dict[str, Any]:
    """GET `location` until `ready(job)` holds (or the job ended, which fails the caller's checks)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(location).json()
        if ready(body) or body["status"] in ("succeeded", "failed", "cancelled"):
            return body
        assert time.monotonic() < deadline, f"{location} is {body}"
        time.sleep(0.05)
