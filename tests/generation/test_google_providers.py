"""Imagen and Gemini: the request google-genai really sends is captured at the transport
(httpx2 MockTransport) and asserted; Google's errors map to Clippy's."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials
from PIL import Image

from app.config import Settings
from app.errors import (
    ContentBlockedError,
    InvalidInputError,
    ProviderError,
    ProviderQuotaError,
    ProviderUnavailableError,
)
from app.generation.base import GenerationSpec, Hooks, Ref
from app.generation.gemini import GeminiProvider
from app.generation.imagen import ImagenProvider, ordered_refs, reference_prompt
from app.generation.models import GenerateRequest
from app.generation.sdxl import SdxlProvider
from tests.support.generation import make_app, png, poll
from tests.support.images import png_bytes

pytestmark = pytest.mark.anyio

PNG_B64 = base64.b64encode(png((5, 6, 7), (32, 32))).decode()
Reply = Callable[[httpx2.Request], httpx2.Response]


class Google:
    """A fake Vertex AI endpoint: records requests, answers with `reply`."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.reply: Reply = lambda request: httpx2.Response(500)

    def client(self) -> Any:
        def handler(request: httpx2.Request) -> httpx2.Response:
            self.requests.append(request)
            return self.reply(request)

        return genai.Client(
            vertexai=True,
            project="clippy-test",
            location="us-central1",
            credentials=Credentials(token="fake-token"),
            http_options=types.HttpOptions(httpx_client=httpx2.Client(transport=httpx2.MockTransport(handler))),
        )

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.requests[-1].content)


def error(code: int, status: str, message: str) -> Reply:
    return lambda request: httpx2.Response(code, json={"error": {"code": code, "status": status, "message": message}})


def predictions(*items: dict[str, Any]) -> Reply:
    return lambda request: httpx2.Response(200, json={"predictions": list(items)})


IMAGE = {"bytesBase64Encoded": PNG_B64, "mimeType": "image/png"}


@pytest.fixture
def google() -> Google:
    return Google()


@pytest.fixture
def google_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"GOOGLE_CLOUD_PROJECT": "clippy-test", "IMAGEN_ADD_WATERMARK": False})


def img(color: tuple[int, int, int]) -> Image.Image:
    return Image.open(io.BytesIO(png(color))).convert("RGB")


def spec(**overrides: Any) -> GenerationSpec:
    values: dict[str, Any] = {
        "prompt": "a lighthouse",
        "negative_prompt": "people",
        "refs": [],
        "sketch": None,
        "sketch_weight": 0.0,
        "seed": 11,
        "width": 1024,
        "height": 768,
        "n": 2,
        "steps": None,
        "guidance": 7.5,
        **overrides,
    }
    return GenerationSpec(**values)


# --- Imagen ------------------------------------------------------------------------------


async def test_imagen_text_to_image_sends_model_prompt_and_parameters(
    google: Google, google_settings: Settings
) -> None:
    google.reply = predictions(IMAGE, IMAGE)
    provider = ImagenProvider(google_settings, client=google.client())
    out = await provider.generate(spec())

    request = google.requests[-1]
    assert request.url.path.endswith(
        "/projects/clippy-test/locations/us-central1/publishers/google/models/imagen-3.0-generate-002:predict"
    )
    assert request.headers["authorization"] == "Bearer fake-token"
    assert google.body["instances"] == [{"prompt": "a lighthouse"}]
    params = google.body["parameters"]
    assert params["sampleCount"] == 2 and params["aspectRatio"] == "4:3"
    assert params["negativePrompt"] == "people" and params["guidanceScale"] == 7.5
    assert params["seed"] == 11 and params["addWatermark"] is False
    assert len(out.images) == 2 and out.images[0].size == (32, 32)
    assert out.model == "imagen-3.0-generate-002" and out.seeds == [11, 11]


async def test_imagen_references_become_subject_and_style_reference_images(
    google: Google, google_settings: Settings
) -> None:
    google.reply = predictions(IMAGE)
    provider = ImagenProvider(google_settings, client=google.client())
    refs = [
        Ref("style", 0.3, img((200, 0, 0))),
        Ref("subject", 0.9, img((0, 200, 0))),
        Ref("subject", 0.0, img((0, 0, 200))),
    ]
    out = await provider.generate(spec(refs=refs, n=1, sketch=img((255, 255, 255)), sketch_weight=0.5))

    assert google.requests[-1].url.path.endswith("/models/imagen-3.0-capability-001:predict")
    (instance,) = google.body["instances"]
    assert instance["prompt"] == (
        "a lighthouse, featuring exactly the subject [1], loosely in the style of [2], "
        "following the layout of the scribble [3]"
    )
    kinds = [(r["referenceType"], r["referenceId"]) for r in instance["referenceImages"]]
    assert kinds == [
        ("REFERENCE_TYPE_SUBJECT", 1),
        ("REFERENCE_TYPE_STYLE", 2),
        ("REFERENCE_TYPE_CONTROL", 3),
    ]
    subject, style, control = instance["referenceImages"]
    assert subject["subjectImageConfig"]["subject_type"] == "SUBJECT_TYPE_DEFAULT"
    assert "style_description" in style["styleImageConfig"]
    assert control["controlImageConfig"]["controlType"] == "CONTROL_TYPE_SCRIBBLE"
    assert Image.open(io.BytesIO(base64.b64decode(subject["referenceImage"]["bytesBase64Encoded"])))
    assert google.body["parameters"]["editMode"] == "EDIT_MODE_DEFAULT"
    assert any("weight 0 dropped" in note for note in out.notes)


def test_imagen_orders_references_by_weight_and_drops_zero_weights() -> None:
    a, b, c = (Ref("style", w, Image.new("RGB", (1, 1))) for w in (0.5, 0.0, 0.8))
    assert ordered_refs([a, b, c]) == [c, a]
    assert reference_prompt("x.", [c, a], None) == "x, strictly in the style of [1], in the style of [2]"


@pytest.mark.parametrize(
    ("reply", "error_type", "status"),
    [
        (error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com"), ProviderQuotaError, 429),
        (
            error(
                400,
                "INVALID_ARGUMENT",
                "The prompt could not be submitted: it violates Google's Responsible AI practices.",
            ),
            ContentBlockedError,
            422,
        ),
        (error(400, "INVALID_ARGUMENT", "Image too small"), InvalidInputError, 422),
        (error(403, "PERMISSION_DENIED", "Vertex AI API has not been used"), ProviderError, 502),
        (error(503, "UNAVAILABLE", "try later"), ProviderUnavailableError, 503),
        (predictions({"raiFilteredReason": "39322892: violates the safety policy"}), ContentBlockedError, 422),
    ],
)
async def test_imagen_errors_map_to_api_errors(
    google: Google, google_settings: Settings, reply: Reply, error_type: type[Exception], status: int
) -> None:
    google.reply = reply
    provider = ImagenProvider(google_settings, client=google.client())
    with pytest.raises(error_type) as info:
        await provider.generate(spec())
    assert type(info.value) is error_type and info.value.status_code == status  # type: ignore[attr-defined]


def test_imagen_quota_and_safety_fail_the_job_with_clear_codes(google: Google, google_settings: Settings) -> None:
    provider = ImagenProvider(google_settings, client=google.client())
    app, _, _ = make_app(google_settings, {"imagen": provider})
    body = {"prompt": "a lighthouse", "provider": "imagen", "width": 1024, "height": 1024}
    with TestClient(app) as client:
        google.reply = error(429, "RESOURCE_EXHAUSTED", "Quota exceeded")
        failed = poll(client, client.post("/images/generate", json=body).headers["location"], "failed")
        assert failed["error"]["code"] == "provider_quota"
        google.reply = predictions({"raiFilteredReason": "blocked by the safety filter"})
        failed = poll(client, client.post("/images/generate", json=body).headers["location"], "failed")
        assert failed["error"]["code"] == "content_blocked"
        assert "safety" in failed["error"]["message"]
        google.reply = predictions(IMAGE)
        done = poll(client, client.post("/images/generate", json=body).headers["location"], "succeeded")
        assert done["result"]["provider"] == "imagen"
        bad = client.post("/images/generate", json={**body, "width": 1000, "height": 300})
        assert bad.status_code == 422 and "aspect ratios" in bad.json()["detail"]
        too_many = client.post("/images/generate", json={**body, "n": 5})
        assert too_many.status_code == 422


async def test_google_seeds_fit_in_an_int32(google: Google, google_settings: Settings) -> None:
    providers = {
        "imagen": ImagenProvider(google_settings, client=google.client()),
        "gemini": GeminiProvider(google_settings, client=google.client()),
    }
    _, generation, _ = make_app(google_settings, providers)  # not started: jobs only queue
    base = {"prompt": "a lighthouse", "width": 1024, "height": 1024}
    for name in providers:
        with pytest.raises(InvalidInputError, match="2147483647") as info:
            await generation.submit(GenerateRequest.model_validate({**base, "provider": name, "seed": 2**31}))
        assert info.value.status_code == 422
    # Gemini sends `seed + i` per image: the last one must fit too.
    with pytest.raises(InvalidInputError, match="seed \\+ n - 1"):
        await generation.submit(
            GenerateRequest.model_validate({**base, "provider": "gemini", "seed": 2**31 - 1, "n": 2})
        )
    ok = await generation.submit(
        GenerateRequest.model_validate({**base, "provider": "gemini", "seed": 2**31 - 2, "n": 2})
    )
    assert ok.params["seed"] == 2**31 - 2
    # Random seeds are drawn under the bound, with room for every image's `seed + i`.
    for _ in range(24):
        job = await generation.submit(GenerateRequest.model_validate({**base, "provider": "gemini", "n": 4}))
        assert 0 <= job.params["seed"] <= 2**31 - 4


def test_a_google_provider_without_a_project_is_unavailable(settings: Settings) -> None:
    app, _, _ = make_app(settings, {})
    with TestClient(app) as client:
        response = client.post(
            "/images/generate", json={"prompt": "x", "provider": "gemini", "width": 1024, "height": 1024}
        )
    assert response.status_code == 503
    assert "GOOGLE_CLOUD_PROJECT" in response.json()["detail"]


# --- Gemini ------------------------------------------------------------------------------


def gemini_reply(*parts: dict[str, Any], finish: str = "STOP") -> Reply:
    return lambda request: httpx2.Response(
        200,
        json={"candidates": [{"content": {"role": "model", "parts": list(parts)}, "finishReason": finish}]},
    )


async def test_gemini_sends_references_inline_with_roles_and_weights(google: Google, google_settings: Settings) -> None:
    google.reply = gemini_reply({"inlineData": {"mimeType": "image/png", "data": PNG_B64}})
    provider = GeminiProvider(google_settings, client=google.client())
    refs = [Ref("style", 0.7, img((200, 0, 0))), Ref("subject", 0.4, img((0, 200, 0)))]
    steps: list[tuple[int, int]] = []
    out = await provider.generate(spec(refs=refs), Hooks(report=lambda s, t: steps.append((s, t))))

    assert len(google.requests) == 2 and steps == [(0, 2), (1, 2), (2, 2)]
    assert google.requests[0].url.path.endswith("/publishers/google/models/gemini-2.5-flash-image:generateContent")
    (content,) = google.body["contents"]
    parts = content["parts"]
    assert "a lighthouse" in parts[0]["text"] and "Avoid: people" in parts[0]["text"]
    assert parts[1]["text"].startswith("Reference 1: style reference, weight 0.70")
    assert parts[2]["inlineData"]["mime_type"] == "image/png"  # as the SDK sends it
    assert parts[3]["text"].startswith("Reference 2: subject reference, weight 0.40")
    config = google.body["generationConfig"]
    assert config["responseModalities"] == ["TEXT", "IMAGE"]
    assert config["seed"] == 12 and config["imageConfig"]["aspectRatio"] == "4:3"
    assert json.loads(google.requests[0].content)["generationConfig"]["seed"] == 11
    assert out.seeds == [11, 12] and len(out.images) == 2


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        (gemini_reply(finish="IMAGE_SAFETY"), ContentBlockedError),
        (
            lambda request: httpx2.Response(200, json={"promptFeedback": {"blockReason": "SAFETY"}}),
            ContentBlockedError,
        ),
        (gemini_reply({"text": "I can't draw that."}), ProviderError),
        (error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), ProviderQuotaError),
    ],
)
async def test_gemini_errors_map_to_api_errors(
    google: Google, google_settings: Settings, reply: Reply, error_type: type[Exception]
) -> None:
    google.reply = reply
    provider = GeminiProvider(google_settings, client=google.client())
    with pytest.raises(error_type):
        await provider.generate(spec(n=1))


# --- edits: a base image under a mask ------------------------------------------------------


def edit_spec(**overrides: Any) -> GenerationSpec:
    base = img((10, 120, 200))
    mask = Image.new("L", base.size, 0)
    mask.paste(255, (8, 8, 40, 40))
    return spec(**{"n": 1, "width": 1024, "height": 1024, "base": base, "mask": mask, "strength": 0.99, **overrides})


@pytest.mark.parametrize(
    ("mode", "edit_mode"),
    [
        ("inpaint-insert", "EDIT_MODE_INPAINT_INSERTION"),
        ("inpaint-remove", "EDIT_MODE_INPAINT_REMOVAL"),
        ("background-swap", "EDIT_MODE_BGSWAP"),
        ("outpaint", "EDIT_MODE_OUTPAINT"),
    ],
)
async def test_imagen_edits_send_the_base_raw_the_mask_user_provided_and_subjects_kept(
    google: Google, google_settings: Settings, mode: str, edit_mode: str
) -> None:
    google.reply = predictions(IMAGE)
    provider = ImagenProvider(google_settings, client=google.client())
    refs = [Ref("subject", 0.9, img((0, 200, 0)))]
    await provider.generate(edit_spec(refs=refs, edit_mode=mode))

    assert google.requests[-1].url.path.endswith("/models/imagen-3.0-capability-001:predict")
    (instance,) = google.body["instances"]
    kinds = [(r["referenceType"], r["referenceId"]) for r in instance["referenceImages"]]
    assert kinds == [("REFERENCE_TYPE_SUBJECT", 1), ("REFERENCE_TYPE_RAW", 2), ("REFERENCE_TYPE_MASK", 3)]
    assert instance["prompt"] == "a lighthouse, featuring exactly the subject [1]"
    subject, raw, mask = instance["referenceImages"]
    assert mask["maskImageConfig"]["maskMode"] == "MASK_MODE_USER_PROVIDED"
    sent = Image.open(io.BytesIO(base64.b64decode(mask["referenceImage"]["bytesBase64Encoded"]))).convert("L")
    assert sent.getpixel((20, 20)) == 255 and sent.getpixel((2, 2)) == 0  # white = edit
    assert base64.b64decode(raw["referenceImage"]["bytesBase64Encoded"]) == png_bytes(edit_spec().base)
    params = google.body["parameters"]
    assert params["editMode"] == edit_mode and "aspectRatio" not in params


async def test_imagen_edits_a_base_without_a_mask_in_the_default_mode(
    google: Google, google_settings: Settings
) -> None:
    google.reply = predictions(IMAGE)
    provider = ImagenProvider(google_settings, client=google.client())
    out = await provider.generate(edit_spec(mask=None, strength=0.3))
    (instance,) = google.body["instances"]
    assert [r["referenceType"] for r in instance["referenceImages"]] == ["REFERENCE_TYPE_RAW"]
    assert google.body["parameters"]["editMode"] == "EDIT_MODE_DEFAULT"
    assert any("strength not honoured" in note for note in out.notes)


async def test_gemini_edits_send_base_and_mask_with_what_white_and_black_mean(
    google: Google, google_settings: Settings
) -> None:
    google.reply = gemini_reply({"inlineData": {"mimeType": "image/png", "data": PNG_B64}})
    provider = GeminiProvider(google_settings, client=google.client())
    refs = [Ref("subject", 0.8, img((0, 200, 0)))]
    await provider.generate(edit_spec(refs=refs, edit_mode="inpaint-remove"))

    (content,) = google.body["contents"]
    parts = content["parts"]
    assert parts[0]["text"].startswith("Edit the base image: a lighthouse")
    assert "Remove what is in the white area" in parts[0]["text"]
    texts = [p.get("text", "") for p in parts]
    base_at = texts.index("Base image (the picture to edit):")
    assert "inlineData" in parts[base_at + 1]
    mask_at = next(i for i, t in enumerate(texts) if t.startswith("Mask (the same size as the base image): white"))
    assert mask_at > base_at and "black = keep" in texts[mask_at]
    data = parts[mask_at + 1]["inlineData"]["data"]  # the SDK sends URL-safe base64 without padding
    sent = Image.open(io.BytesIO(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))).convert("L")
    assert sent.getpixel((20, 20)) == 255 and sent.getpixel((2, 2)) == 0
    assert texts[1].startswith("Reference 1: subject reference")


def test_each_provider_takes_the_edit_modes_it_can_do_and_refuses_at_submit(
    google: Google, google_settings: Settings, sdxl: SdxlProvider
) -> None:
    """Decided at submit: Imagen takes an outpaint, SDXL refuses it with a 422 naming both."""
    google.reply = predictions(IMAGE)
    imagen = ImagenProvider(google_settings, client=google.client())
    app, _, _ = make_app(google_settings, {"imagen": imagen, "sdxl": sdxl})
    base = Image.new("RGB", (64, 64), (0, 0, 200))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 16, 64))
    body = {
        "prompt": "more sea",
        "baseImage": {"image": "data:image/png;base64," + base64.b64encode(png_bytes(base)).decode()},
        "mask": "data:image/png;base64," + base64.b64encode(png_bytes(mask)).decode(),
        "editMode": "outpaint",
    }
    with TestClient(app) as client:
        response = client.post("/images/generate", json={**body, "provider": "imagen"})
        assert response.status_code == 202, response.text
        done = poll(client, response.headers["location"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        assert google.body["parameters"]["editMode"] == "EDIT_MODE_OUTPAINT"
        sent = len(google.requests)
        refused = client.post("/images/generate", json={**body, "provider": "sdxl"})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert "`sdxl`" in problem["detail"] and "'outpaint'" in problem["detail"]
    assert "editMode" in json.dumps(problem["errors"])
    assert len(google.requests) == sent  # nothing was queued


async def test_imagen_sends_a_face_ref_as_a_person_subject(google: Google, google_settings: Settings) -> None:
    google.reply = predictions(IMAGE)
    provider = ImagenProvider(google_settings, client=google.client())
    refs = [Ref("face", 0.8, img((200, 150, 120))), Ref("style", 0.5, img((0, 0, 200)))]
    await provider.generate(spec(refs=refs, n=1))

    (instance,) = google.body["instances"]
    assert instance["prompt"] == "a lighthouse, featuring exactly the person [1], in the style of [2]"
    face, style = instance["referenceImages"]
    assert face["referenceType"] == "REFERENCE_TYPE_SUBJECT"
    assert face["subjectImageConfig"]["subject_type"] == "SUBJECT_TYPE_PERSON"
    assert style["referenceType"] == "REFERENCE_TYPE_STYLE"


def test_imagen_refuses_a_composition_ref_at_submit_naming_provider_and_role(
    google: Google, google_settings: Settings
) -> None:
    imagen = ImagenProvider(google_settings, client=google.client())
    app, _, _ = make_app(google_settings, {"imagen": imagen})
    ref = {"role": "composition", "image": "data:image/png;base64," + PNG_B64, "weight": 0.6}
    with TestClient(app) as client:
        refused = client.post("/images/generate", json={"prompt": "x", "provider": "imagen", "refs": [ref]})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "imagen" in detail and "`composition`" in detail
    assert not google.requests


async def test_gemini_states_face_and_composition_roles_in_the_instruction(
    google: Google, google_settings: Settings
) -> None:
    google.reply = gemini_reply({"inlineData": {"mimeType": "image/png", "data": PNG_B64}})
    provider = GeminiProvider(google_settings, client=google.client())
    refs = [Ref("face", 0.9, img((200, 150, 120))), Ref("composition", 0.3, img((0, 0, 200)))]
    await provider.generate(spec(refs=refs, n=1))

    parts = google.body["contents"][0]["parts"]
    assert parts[1]["text"].startswith("Reference 1: face reference, weight 0.90")
    assert "person's face" in parts[1]["text"]
    assert parts[3]["text"].startswith("Reference 2: composition reference, weight 0.30")
    assert "only its composition" in parts[3]["text"] and "not its content" in parts[3]["text"]
