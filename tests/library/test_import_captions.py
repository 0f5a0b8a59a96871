"""AUTO_CAPTION: untagged imports get a caption and tags from the describe model (a tiny random
BLIP, tests/support/tiny_blip.py) through a real import; a person corrects them with PATCH."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.library.imports.captions import AutoCaptioner, DescribeSource, StorySource, caption_tags
from app.services import Services
from app.storage.payload import CAPTION_GENERATED
from app.stories.vlm import TransformersStoryProvider
from tests.support.images import png_bytes, shape_image
from tests.support.settings import tiny_settings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders, tiny_blip: Path) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("captions")
    # AUTO_CAPTION's default (`auto`): on, as DESCRIBE_MODEL is on disk.
    settings = tiny_settings(
        tmp, AUTO_CAPTION="auto", DESCRIBE_MODEL=str(tiny_blip), DESCRIBE_MAX_TOKENS=8, GENERATED_ROOT=tmp / "gen"
    )
    services = Services.open(settings, encoders=encoders)
    with TestClient(create_app(settings, services)) as client:
        yield {"client": client, "services": services}
    services.store.close()


def _import(client: TestClient, files: list[tuple[str, bytes]], tags: str | None = None) -> dict[str, Any]:
    sent = [("files", (name, data, "image/png")) for name, data in files]
    r = client.post("/libraries/default/imports", files=sent, data={"tags": tags} if tags else None)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(r.headers["location"]).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            assert job["status"] == "succeeded", job
            return dict(job["result"])
        time.sleep(0.05)
    raise AssertionError("import job did not finish")


def _payload(services: Services, image_id: str) -> dict[str, Any]:
    (point,) = services.store.retrieve([image_id], with_vectors=True)
    return {"payload": point.payload, "vectors": point.vectors}


def test_untagged_imports_are_captioned_marked_and_reimport_is_idempotent(app: dict[str, Any]) -> None:
    client: TestClient = app["client"]
    services: Services = app["services"]
    pics = [("a.png", png_bytes(shape_image(0, 401))), ("b.png", png_bytes(shape_image(1, 402)))]
    tagged = [("c.png", png_bytes(shape_image(2, 403)))]

    first = _import(client, pics)
    assert first["ingested"] == 2 and first["captioned"] == 2 and not first["notes"]
    for image_id in first["ids"]:
        stored = _payload(services, image_id)
        payload = stored["payload"]
        caption = payload["caption"]
        assert caption and payload[CAPTION_GENERATED] is True
        assert payload["tags"] == caption_tags(caption, services.settings.AUTO_CAPTION_MAX_TAGS)
        # The text view embeds the generated caption (and tags), as for a described item.
        expected = services.encoders.text.encode_texts([services.encoders.tags_text(payload["tags"], caption)])[0]
        assert np.allclose(stored["vectors"]["text"], expected, atol=1e-5)
    listed = {i["id"]: i for i in client.get("/images").json()["items"]}
    assert all(listed[i]["captionGenerated"] and listed[i]["caption"] for i in first["ids"])

    again = _import(client, pics)
    assert (again["ingested"], again["skipped"], again["captioned"]) == (0, 2, 0)
    with_tags = _import(client, tagged, tags="mine")
    assert with_tags["ingested"] == 1 and with_tags["captioned"] == 0
    assert "caption" not in _payload(services, with_tags["ids"][0])["payload"]


def test_a_person_corrects_a_generated_caption_and_the_views_follow(app: dict[str, Any]) -> None:
    client: TestClient = app["client"]
    services: Services = app["services"]
    (image_id,) = _import(client, [("fox.png", png_bytes(shape_image(0, 411)))])["ids"]
    assert _payload(services, image_id)["payload"][CAPTION_GENERATED] is True
    before = _payload(services, image_id)["vectors"]

    r = client.patch(f"/images/{image_id}", json={"caption": "a red fox in snow", "tags": ["Fox", "red fox"]})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": image_id,
        "caption": "a red fox in snow",
        "tags": ["fox", "red_fox"],
        "captionGenerated": False,
    }
    after = _payload(services, image_id)
    assert CAPTION_GENERATED not in after["payload"] and after["payload"]["caption"] == "a red fox in snow"
    text = services.encoders.tags_text(["fox", "red_fox"], "a red fox in snow")
    assert np.allclose(after["vectors"]["text"], services.encoders.text.encode_texts([text])[0], atol=1e-5)
    assert np.array_equal(after["vectors"]["image"], before["image"])  # the picture views are kept
    hits = client.get("/search", params={"query": "fox"}).json()
    assert [h["id"] for h in hits["hits"]][0] == image_id  # the tags view matches the word

    # A re-import leaves the person's caption alone.
    _import(client, [("fox.png", png_bytes(shape_image(0, 411)))])
    assert _payload(services, image_id)["payload"]["caption"] == "a red fox in snow"
    # Only the tags: the caption stays.
    r = client.patch(f"/images/{image_id}", json={"tags": ["vixen"]})
    assert r.json()["caption"] == "a red fox in snow" and r.json()["tags"] == ["vixen"]

    nothing = client.patch(f"/images/{image_id}", json={"caption": "", "tags": []})
    assert nothing.status_code == 422 and "caption or at least one tag" in nothing.json()["detail"]
    assert client.patch(f"/images/{image_id}", json={}).status_code == 422
    unknown = client.patch("/images/00000000-0000-0000-0000-000000000000", json={"tags": ["x"]})
    assert unknown.status_code == 404


def test_caption_tags_keep_content_words_once_and_bounded() -> None:
    caption = "there is a red fox sitting in the snow with a red scarf"
    assert caption_tags(caption, 8) == ["red", "fox", "sitting", "snow", "scarf"]
    assert caption_tags(caption, 2) == ["red", "fox"]


def _never() -> Any:
    pytest.fail("must not load a model")


def test_auto_is_off_with_a_note_when_the_model_is_not_on_disk(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path, AUTO_CAPTION="auto", DESCRIBE_MODEL=str(tmp_path / "no-such-model"))
    why = AutoCaptioner(settings, DescribeSource(settings, _never)).disabled_because()
    assert why is not None and "DESCRIBE_MODEL" in why and "AUTO_CAPTION=on" in why
    off = tiny_settings(tmp_path, AUTO_CAPTION="off")
    assert AutoCaptioner(off, DescribeSource(off, _never)).disabled_because() == "AUTO_CAPTION is off"
    story = tiny_settings(tmp_path, AUTO_CAPTION="auto", STORY_MODEL=str(tmp_path / "no-such-vlm"))
    provider = TransformersStoryProvider(story)
    why = AutoCaptioner(story, StorySource(story, lambda: provider)).disabled_because()
    assert why is not None and "STORY_MODEL" in why and not provider.loaded


def test_the_story_provider_captions_an_untagged_import(tmp_path: Path, encoders: Encoders, tiny_vlm: Path) -> None:
    settings = tiny_settings(
        tmp_path,
        AUTO_CAPTION="auto",
        AUTO_CAPTION_SOURCE="story",
        STORY_MODEL=str(tiny_vlm),
        STORY_MAX_TOKENS=8,
        MODEL_IDLE_UNLOAD_S=0,
    )
    services = Services.open(settings, encoders=encoders)
    try:
        with TestClient(create_app(settings, services)) as client:
            result = _import(client, [("s.png", png_bytes(shape_image(1, 421)))])
        assert result["captioned"] == 1, result
        payload = _payload(services, result["ids"][0])["payload"]
        assert payload["caption"] and payload[CAPTION_GENERATED] is True
    finally:
        services.store.close()
