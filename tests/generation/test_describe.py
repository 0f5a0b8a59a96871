"""POST /images/describe on a tiny random-weight BLIP built in code (no download)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.errors import WeightsUnavailableError
from app.generation.describe import TransformersDescriber, build_describer
from app.generation.loading import BoundedLoad
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


@contextlib.contextmanager
def unreachable_hub(kind: str) -> Iterator[str]:
    """A hub endpoint on loopback that refuses connections, or accepts them and never answers
    (what a dead network looks like to huggingface_hub, which then retries for minutes)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if kind == "refused":
        listener.close()
    else:
        listener.listen(64)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listener.close()


@pytest.mark.parametrize("hub", ["refused", "silent"])
def test_a_missing_describe_model_answers_503_in_seconds_then_from_the_cached_failure(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: str
) -> None:
    import huggingface_hub.constants as hub_constants

    # Not the suite's HF_HUB_OFFLINE=1: the server is online as far as it knows.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    missing = settings.model_copy(
        update={
            "DESCRIBE_MODEL": "nobody-here/no-such-captioner",
            "MODEL_CACHE_DIR": tmp_path / "hf-cache",
            "MODEL_LOAD_TIMEOUT_S": 2.0,
            "MODEL_RETRY_S": 300.0,
        }
    )
    with unreachable_hub(hub) as endpoint:
        monkeypatch.setattr(hub_constants, "ENDPOINT", endpoint)
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        app, generation, _ = make_app(missing, {})
        with TestClient(app) as client:
            answers = []
            for _ in range(2):
                started = time.monotonic()
                r = client.post("/images/describe", files={"image": ("a.png", png((9, 9, 9)), "image/png")})
                answers.append((r, time.monotonic() - started))
        (first, first_s), (second, second_s) = answers
        for r, seconds in answers:
            assert r.status_code == 503 and r.json()["code"] == "weights_unavailable", r.text
            assert seconds < 5, seconds
            assert 1 <= int(r.headers["retry-after"]) <= 300
        assert "DESCRIBE_MODEL" in first.json()["detail"] or "MODEL_LOAD_TIMEOUT_S" in first.json()["detail"]
        # The second is the remembered failure: the same reason, no second load, no wait.
        assert second.json()["detail"] == first.json()["detail"]
        assert generation.describer._loader.attempts == 1
        assert second_s < 1


def test_a_load_that_finishes_after_its_callers_gave_up_still_counts() -> None:
    release = threading.Event()
    loader = BoundedLoad("slow", lambda: None if release.wait(10) else None, timeout_s=0.1, retry_s=300)
    with pytest.raises(WeightsUnavailableError, match="did not load within"):
        loader()
    release.set()
    deadline = time.monotonic() + 5
    while not loader.loaded:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    loader()  # loaded in the background: no error, no second attempt
    assert loader.attempts == 1


def test_a_remembered_failure_is_retried_after_model_retry_s() -> None:
    now = [0.0]
    calls: list[int] = []

    def load() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("no weights")

    loader = BoundedLoad("flaky", load, timeout_s=5, retry_s=60, clock=lambda: now[0])
    with pytest.raises(WeightsUnavailableError, match="no weights"):
        loader()
    now[0] = 59
    with pytest.raises(WeightsUnavailableError) as cached:
        loader()
    assert cached.value.details["retry_after"] == 1 and len(calls) == 1
    now[0] = 61
    loader()
    assert len(calls) == 2 and loader.loaded


def test_an_idle_describer_frees_its_weights_and_loads_them_again(describe_settings: Settings) -> None:
    clock = [0.0]
    describer = TransformersDescriber(
        describe_settings.model_copy(update={"MODEL_IDLE_UNLOAD_S": 60.0}), lambda: clock[0]
    )
    image = Image.new("RGB", (40, 30), (200, 10, 10))
    first = describer.caption(image)
    clock[0] = 59.0
    assert not describer.unload_if_idle() and describer.loaded
    clock[0] = 61.0
    assert describer.unload_if_idle() and not describer.loaded
    assert describer.caption(image) == first and describer.loaded, "loaded again, same caption"
    describer.close()  # stops the 60 s timer the caption armed, and frees the model
    assert not describer.loaded
