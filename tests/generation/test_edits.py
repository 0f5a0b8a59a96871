"""Edits on POST /images/generate: a `baseImage` (img2img) and a `mask` (inpainting), through the
real API on the tiny SDXL, and the mask checks (app/generation/mask.py)."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from app.errors import InvalidInputError
from app.generation.mask import base_output_size, check_mask, feather, paste_back
from app.generation.sdxl import REMOVE_PROMPT, SdxlProvider
from tests.support.generation import poll
from tests.support.images import data_url, png_bytes

BASE = {"prompt": "a red fox", "steps": 2, "seed": 3, "width": 64, "height": 64}


def picture(size: tuple[int, int] = (64, 64)) -> Image.Image:
    """A base with structure everywhere (a gradient and stripes), so any change shows."""
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None].repeat(w, 1)
    rgb = np.stack([x, y, (x + y) / 2], axis=-1)
    rgb[::4] = 255 - rgb[::4]
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def mask(size: tuple[int, int] = (64, 64), box: tuple[int, int, int, int] = (16, 16, 48, 48)) -> Image.Image:
    img = Image.new("L", size, 0)
    ImageDraw.Draw(img).rectangle(box, fill=255)
    return img


def result_and_sidecar(client: TestClient, response: Any) -> tuple[dict[str, Any], Image.Image, dict[str, Any]]:
    assert response.status_code == 202, response.text
    done = poll(client, response.headers["location"], "succeeded", "failed")
    assert done["status"] == "succeeded", done
    url = done["result"]["images"][0]["url"]
    image = Image.open(io.BytesIO(client.get(url).content)).convert("RGB")
    return done, image, client.get(url.replace(".png", ".json")).json()


class Spy:
    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.pipe(**kwargs)


# --- SDXL through the API ------------------------------------------------------------------


def test_an_inpaint_keeps_every_pixel_outside_the_mask_and_changes_inside(
    client: TestClient, sdxl: SdxlProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(sdxl._inpaint)
    monkeypatch.setattr(sdxl, "_inpaint", spy)
    body = {
        **BASE,
        "baseImage": {"image": data_url(picture())},
        "mask": data_url(mask()),
        "refs": [{"role": "style", "id": "id-red", "weight": 0.6}],
    }
    done, out, sidecar = result_and_sidecar(client, client.post("/images/generate", json=body))

    keep = np.asarray(mask()) == 0
    diff = np.abs(np.asarray(out, dtype=np.int16) - np.asarray(picture(), dtype=np.int16)).max(axis=-1)
    assert diff[keep].max() <= 1  # the original, pasted back
    assert diff[~keep].mean() > 20  # repainted
    (call,) = spy.calls
    assert call["strength"] == pytest.approx(0.99) and call["mask_image"].size == (64, 64)
    assert call["ip_adapter_image"][0] and call["prompt"] == "a red fox"  # IP-Adapter refs as today
    # strength 0.99 of 2 steps runs one: progress is reported per step that runs
    assert done["progress"] == {"step": 1, "total": 1, "partial": None}
    assert sidecar["editMode"] == "inpaint-insert" and sidecar["strength"] == 0.99
    assert sidecar["baseSource"] == {"image": "inline"} and sidecar["mask"]


def test_the_inpaint_pipeline_shares_the_loaded_weights(sdxl: SdxlProvider) -> None:
    for name in ("unet", "vae", "text_encoder", "text_encoder_2", "image_encoder"):
        assert getattr(sdxl._inpaint, name) is getattr(sdxl._pipe, name), name
    unets = {id(p.unet) for p in (sdxl._pipe, sdxl._img2img, sdxl._inpaint)}
    assert len(unets) == 1


def test_inpaint_remove_fills_from_the_surroundings_with_the_prompt_negated(
    client: TestClient, sdxl: SdxlProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(sdxl._inpaint)
    monkeypatch.setattr(sdxl, "_inpaint", spy)
    body = {**BASE, "baseImage": {"image": data_url(picture())}, "mask": data_url(mask()), "editMode": "inpaint-remove"}
    result_and_sidecar(client, client.post("/images/generate", json=body))
    (call,) = spy.calls
    assert call["prompt"] == REMOVE_PROMPT and call["negative_prompt"] == "a red fox"


def test_a_base_without_a_mask_is_img2img_at_the_seeds_default_strength(
    client: TestClient, sdxl: SdxlProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(sdxl._img2img)
    monkeypatch.setattr(sdxl, "_img2img", spy)
    body = {**BASE, "baseImage": {"id": "id-blue"}, "refs": [{"role": "style", "id": "id-red"}]}
    done, out, sidecar = result_and_sidecar(client, client.post("/images/generate", json=body))
    assert sidecar["strength"] == 0.3 and sidecar["baseSource"] == {"id": "id-blue"}
    assert sidecar["editMode"] is None and sidecar["mask"] is None
    (call,) = spy.calls
    assert call["strength"] == pytest.approx(0.3) and "mask_image" not in call
    assert call["ip_adapter_image"][0]  # style refs still through the IP-Adapter
    assert any("steps raised" in note for note in done["result"]["notes"])
    # An explicit strength is used as sent.
    _, _, sidecar = result_and_sidecar(client, client.post("/images/generate", json={**body, "strength": 0.6}))
    assert sidecar["strength"] == 0.6 and spy.calls[-1]["strength"] == pytest.approx(0.6)


def test_without_a_size_the_result_takes_the_bases_aspect(client: TestClient) -> None:
    body = {"prompt": "a fox", "steps": 2, "baseImage": {"image": data_url(picture((96, 64)))}}
    _, out, _ = result_and_sidecar(client, client.post("/images/generate", json=body))
    assert out.size == base_output_size((96, 64), 256, 8) == (256, 168)  # SDXL_MAX_SIDE of the tiny rig


def test_multipart_takes_the_base_and_the_mask_as_files(client: TestClient) -> None:
    response = client.post(
        "/images/generate",
        data={k: str(v) for k, v in BASE.items()},
        files=[
            ("baseImage", ("base.png", png_bytes(picture()), "image/png")),
            ("mask", ("mask.png", png_bytes(mask((128, 128), (32, 32, 96, 96))), "image/png")),
        ],
    )
    _, out, sidecar = result_and_sidecar(client, response)
    keep = np.asarray(mask()) == 0
    diff = np.abs(np.asarray(out, dtype=np.int16) - np.asarray(picture(), dtype=np.int16)).max(axis=-1)
    assert diff[keep].max() <= 1 and sidecar["baseSource"] == {"file": "base.png"}


def test_a_ref_upload_can_be_the_base(client: TestClient) -> None:
    response = client.post(
        "/images/generate",
        data={**{k: str(v) for k, v in BASE.items()}, "baseImage": json.dumps({"upload": 0})},
        files=[("refUploads", ("base.png", png_bytes(picture()), "image/png"))],
    )
    _, _, sidecar = result_and_sidecar(client, response)
    assert sidecar["baseSource"] == {"upload": 0}


def grey_mask() -> Image.Image:
    return Image.fromarray(np.linspace(0, 255, 64 * 64).reshape(64, 64).astype(np.uint8), "L")


@pytest.mark.parametrize(
    ("change", "status", "field", "needle"),
    [
        ({"mask": data_url(mask((64, 32), (8, 8, 24, 24)))}, 422, "mask", "aspect"),
        ({"mask": data_url(Image.new("L", (64, 64), 0))}, 422, "mask", "empty"),
        ({"mask": data_url(Image.new("L", (64, 64), 255))}, 422, "mask", "allowFullMask"),
        ({"mask": data_url(grey_mask())}, 422, "mask", "black and white"),
        ({"mask": "data:image/png;base64,AAAA"}, 415, "mask", "mask"),
        ({"baseImage": None, "mask": data_url(mask())}, 422, "mask", "needs a `baseImage`"),
        ({"baseImage": None, "mask": None, "strength": 0.5}, 422, "strength", "needs a `baseImage`"),
        ({"mask": None, "editMode": "inpaint-remove"}, 422, "editMode", "needs a `mask`"),
        ({"editMode": "outpaint"}, 422, "editMode", "`sdxl` cannot do `editMode` 'outpaint'"),
        ({"editMode": "background-swap"}, 422, "editMode", "'background-swap'"),
        ({"editMode": "sideways"}, 422, "editMode", "editMode"),
        ({"strength": 0}, 422, "strength", "strength"),
        ({"sketch": data_url(mask())}, 422, "sketch", "not both"),
        ({"baseImage": {"id": "nope"}}, 404, "baseImage.id", "nope"),
        ({"baseImage": {"id": "id-red", "url": "https://x.test/a.png"}}, 422, "baseImage", "exactly one"),
        ({"width": 128, "height": 64}, 422, "baseImage", "aspect"),
    ],
)
def test_bad_edits_get_a_4xx_naming_the_field(
    client: TestClient, change: dict[str, Any], status: int, field: str, needle: str
) -> None:
    body = {**BASE, "baseImage": {"image": data_url(picture())}, "mask": data_url(mask()), **change}
    response = client.post("/images/generate", json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert needle in problem["detail"] + json.dumps(problem.get("errors", [])), problem
    assert field in json.dumps(problem), problem


def test_a_full_mask_is_taken_when_asked(client: TestClient) -> None:
    body = {
        **BASE,
        "baseImage": {"image": data_url(picture())},
        "mask": data_url(Image.new("L", (64, 64), 255)),
        "allowFullMask": True,
    }
    _, out, _ = result_and_sidecar(client, client.post("/images/generate", json=body))
    assert out.size == (64, 64)


# --- the mask maths --------------------------------------------------------------------------


def test_check_mask_thresholds_and_resizes_to_the_base() -> None:
    soft = mask((128, 128), (32, 32, 96, 96)).convert("RGB")
    soft.putpixel((0, 0), (100, 100, 100))  # a few grey pixels (anti-aliasing) are fine
    binary = check_mask(soft, (64, 64))
    values = np.asarray(binary)
    assert binary.size == (64, 64) and set(np.unique(values)) == {0, 255}
    assert values[32, 32] == 255 and values[2, 2] == 0
    with pytest.raises(InvalidInputError, match="aspect"):
        check_mask(mask((64, 64)), (64, 48))
    assert check_mask(mask((65, 64)), (64, 64)).size == (64, 64)  # within the tolerance


def test_feather_is_zero_outside_the_mask_and_one_deep_inside() -> None:
    weights = feather(mask((64, 64), (16, 16, 47, 47)), radius=3)
    assert weights[:16].max() == 0 and weights[:, 48:].max() == 0
    assert weights[32, 32] == pytest.approx(1.0, abs=1e-3)
    assert 0 < weights[16, 32] < 1  # the edge fades in


def test_paste_back_keeps_the_original_outside() -> None:
    original, made = picture(), Image.new("RGB", (64, 64), (0, 255, 0))
    out = np.asarray(paste_back(original, made, mask()), dtype=np.int16)
    keep = np.asarray(mask()) == 0
    assert np.array_equal(out[keep], np.asarray(original, dtype=np.int16)[keep])
    assert tuple(out[32, 32]) == (0, 255, 0)
