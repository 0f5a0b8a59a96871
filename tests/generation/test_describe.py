"""POST /images/describe on a tiny random-weight BLIP built in code (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.generation.describe import build_describer
from tests.support.generation import data_url, make_app, png, resolver


@pytest.fixture
def describe_settings(settings: Settings, tiny_blip: Path) -> Settings:
    return settings.model_copy(update={"DESCRIBE_MODEL": str(tiny_blip), "DESCRIBE_MAX_TOKENS": 6})


def test_the_describer_captions_an_image_deterministically(describe_settings: Settings) -> None:
    describer = build_describer(describe_settings)
    image = Image.new("RGB", (40, 30), (200, 10, 10))
    first = describer.caption(image)
    assert first and first == describer.caption(image)
    assert describer.caption(image, prompt="photo").startswith("photo")
    with pytest.raises(ValueError, match="Unknown describe backend"):
        build_describer(describe_settings, "nope")


def test_describe_answers_a_caption_for_a_file_a_data_url_or_an_id(
    describe_settings: Settings, library: dict[str, Path]
) -> None:
    app, _, _ = make_app(describe_settings, {}, resolve_library_image=resolver(library))
    with TestClient(app) as client:
        by_file = client.post("/images/describe", files={"image": ("a.png", png((9, 9, 9)), "image/png")})
        by_url = client.post("/images/describe", json={"image": data_url((9, 9, 9))})
        by_id = client.post("/images/describe", json={"id": "id-red"})
        missing = client.post("/images/describe", json={"id": "nope"})
        none = client.post("/images/describe", json={})
    assert by_file.status_code == by_url.status_code == by_id.status_code == 200, by_file.text
    assert by_file.json()["caption"] and by_file.json()["model"] == describe_settings.DESCRIBE_MODEL
    assert by_file.json()["caption"] == by_url.json()["caption"]
    assert missing.status_code == 404
    assert none.status_code == 422 and "exactly one" in none.json()["detail"]
