"""Input bounds: body and upload sizes, pixel counts before decoding, sniffed formats, no SVG.

Every refusal is a JSON error (413 / 415 / 422) that names the limit or the problem.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from app.api.app import create_app
from app.embedding import Encoders
from app.imaging import decode_image
from app.services import Services
from tests.support.images import png_bytes, shape_image

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def forged_png(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height`, with a tiny (wrong) body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def bomb_png(side: int) -> bytes:
    """A real, valid PNG of side x side black pixels: a few KB on disk, side² bytes decoded."""
    buf = io.BytesIO()
    Image.new("L", (side, side)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def small(library: dict[str, Any], encoders: Encoders) -> Iterator[TestClient]:
    """Tight limits: 200 KB uploads, 1 M pixels, 1 MB request bodies."""
    settings = library["settings"].model_copy(
        update={"MAX_UPLOAD_BYTES": 200_000, "MAX_IMAGE_PIXELS": 1_000_000, "MAX_REQUEST_BYTES": 1_000_000}
    )
    services = Services.open(settings, encoders=encoders, store=library["store"])
    with TestClient(create_app(settings, services)) as c:
        yield c


def _upload(client: TestClient, data: bytes, filename: str = "sketch.png", ctype: str = "image/png") -> Any:
    return client.post("/search/hybrid", files={"sketch": (filename, data, ctype)}, data={"limit": "3"})


def _error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert r.headers["content-type"] == "application/problem+json", r.headers
    assert body["code"] == code and body["status"] == status and body["requestId"]
    assert body["type"] == f"https://clippy.dev/problems/{code}"
    return body


def test_a_decompression_bomb_is_refused_before_its_pixels_are_decoded(small: TestClient) -> None:
    bomb = bomb_png(4000)  # 16 M pixels in a few KB
    assert len(bomb) < 100_000
    err = _error(_upload(small, bomb), 413, "payload_too_large")
    # The size comes from the header, checked before Pillow decodes anything.
    assert "4000x4000" in err["detail"] and "MAX_IMAGE_PIXELS" in err["detail"]
    assert err["limit"] == 1_000_000


@pytest.mark.parametrize(("width", "height"), [(5000, 5000), (100_000, 100_000), (2**31 - 1, 2**31 - 1)])
def test_huge_dimensions_in_a_header_are_refused_by_ours_or_pillows_limit(
    small: TestClient, width: int, height: int
) -> None:
    err = _error(_upload(small, forged_png(width, height)), 413, "payload_too_large")
    assert "MAX_IMAGE_PIXELS" in err["detail"]


def test_the_same_bomb_as_a_data_url_is_refused_too(small: TestClient) -> None:
    url = "data:image/png;base64," + base64.b64encode(bomb_png(2000)).decode()
    err = _error(small.post("/search/hybrid", json={"sketch": url}), 413, "payload_too_large")
    assert "MAX_IMAGE_PIXELS" in err["detail"]


@pytest.mark.parametrize(
    "data",
    [b"definitely not an image", b"%PDF-1.4\n%...", b"GIF89a", b"\x89PNG\r\n\x1a\n" + b"\0" * 20, b"<html></html>"],
)
def test_content_is_sniffed_not_trusted_from_the_file_name(small: TestClient, data: bytes) -> None:
    err = _error(_upload(small, data, "looks-fine.png", "image/png"), 415, "unsupported_media")
    assert "sketch" in err["detail"]


def test_a_jpeg_named_png_is_read_as_the_jpeg_it_is(small: TestClient) -> None:
    buf = io.BytesIO()
    shape_image(0, 1).save(buf, format="JPEG")
    assert _upload(small, buf.getvalue(), "really-a-jpeg.png", "image/png").status_code == 200


@pytest.mark.parametrize(
    ("filename", "ctype"), [("drawing.svg", "image/svg+xml"), ("drawing.png", "image/png"), ("d", "text/plain")]
)
def test_svg_uploads_are_never_rendered(small: TestClient, filename: str, ctype: str) -> None:
    err = _error(_upload(small, SVG, filename, ctype), 415, "unsupported_media")
    assert "PNG" in err["detail"], "the message lists what is accepted"


def test_svg_data_urls_are_never_rendered(small: TestClient) -> None:
    url = "data:image/svg+xml;base64," + base64.b64encode(SVG).decode()
    _error(small.post("/search/hybrid", json={"sketch": url}), 415, "unsupported_media")


def test_an_upload_over_the_byte_limit_is_413_naming_the_setting(small: TestClient) -> None:
    big = png_bytes(Image.effect_noise((400, 400), 64).convert("RGB"))
    assert 200_000 < len(big) < 1_000_000
    err = _error(_upload(small, big), 413, "payload_too_large")
    assert "MAX_UPLOAD_BYTES" in err["detail"]


def test_a_body_over_the_request_limit_is_413_before_it_is_read(small: TestClient) -> None:
    err = _error(small.post("/search/hybrid", content=b"{" + b" " * 1_200_000 + b"}"), 413, "payload_too_large")
    assert "MAX_REQUEST_BYTES" in err["detail"] and err["limit"] == 1_000_000
    gen = small.post("/images/generate", json={"prompt": "x" * 1_100_000})
    _error(gen, 413, "payload_too_large")


def test_a_streamed_body_without_length_is_counted_and_cut_off(small: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"queryText": "'
        for _ in range(30):
            yield b"a" * 50_000
        yield b'"}'

    r = small.post("/search/hybrid", content=chunks(), headers={"content-type": "application/json"})
    err = _error(r, 413, "payload_too_large")
    assert "MAX_REQUEST_BYTES" in err["detail"]


def test_a_wrong_content_type_is_415_and_malformed_json_422(small: TestClient) -> None:
    _error(
        small.post("/search/hybrid", content=b"a=b", headers={"content-type": "text/plain"}), 415, "unsupported_media"
    )
    _error(
        small.post("/search/hybrid", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "invalid_input",
    )


def test_library_imports_take_bigger_bodies_bounded_by_their_own_setting(small: TestClient) -> None:
    junk = b"{" + b" " * 1_200_000 + b"}"  # over MAX_REQUEST_BYTES, under ZIP_MAX_TOTAL_BYTES
    r = small.post("/libraries/default/imports", content=junk, headers={"content-type": "application/json"})
    assert r.status_code != 413, r.text
    limit = small.app.state.settings.ZIP_MAX_TOTAL_BYTES  # type: ignore[attr-defined]
    huge = small.post(
        "/libraries/default/imports",
        content=b"x",
        headers={"content-type": "application/zip", "content-length": str(limit + 1)},
    )
    err = _error(huge, 413, "payload_too_large")
    assert "ZIP_MAX_TOTAL_BYTES" in err["detail"]


# --- decoding cost: the size the model needs, a sketch cap, a bound on concurrency ----------


def _big_png(side: int, mode: str = "RGB") -> bytes:
    """A real side x side picture with a drawn shape: small on disk, side² pixels decoded."""
    img = Image.new(mode, (side, side), "white")
    ImageDraw.Draw(img).ellipse((side // 4, side // 4, 3 * side // 4, 3 * side // 4), outline="black", width=side // 50)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mode"), [("JPEG", "RGB"), ("PNG", "RGB"), ("PNG", "RGBA"), ("PNG", "P"), ("PNG", "1")]
)
def test_big_images_are_decoded_no_larger_than_the_side_asked_for(fmt: str, mode: str) -> None:
    side = 3000
    img = Image.new("RGB", (side, side // 2), "white")
    ImageDraw.Draw(img).rectangle((side // 3, side // 8, 2 * side // 3, 3 * side // 8), fill="black")
    buf = io.BytesIO()
    img.convert(mode).save(buf, format=fmt)
    out = decode_image(buf.getvalue(), max_bytes=10**8, max_pixels=10**8, max_side=512)
    assert out.mode == "RGB"
    assert 512 <= max(out.size) < 1024 and abs(out.size[0] / out.size[1] - 2) < 0.02, out.size
    # Reduced, not cropped: the black box is still in the middle, the corners still white.
    w, h = out.size
    assert out.getpixel((w // 2, h // 2)) == (0, 0, 0) and out.getpixel((2, 2)) == (255, 255, 255)
    small = decode_image(buf.getvalue(), max_bytes=10**8, max_pixels=10**8)
    assert small.size == (side, side // 2), "without max_side the size is kept"


def test_a_transparent_png_is_reduced_without_dark_fringes() -> None:
    img = Image.new("RGBA", (2400, 2400), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((1201, 0, 2399, 2399), fill=(255, 255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    out = decode_image(buf.getvalue(), max_bytes=10**8, max_pixels=10**8, max_side=600)
    # Transparent black flattens to white; the box edge must not average into grey.
    assert min(out.convert("L").getdata()) >= 250


def test_a_sketch_has_a_smaller_pixel_cap_than_an_example_picture(library: dict[str, Any], encoders: Encoders) -> None:
    settings = library["settings"].model_copy(update={"MAX_SKETCH_PIXELS": 1_000_000, "MAX_IMAGE_PIXELS": 40_000_000})
    png = _big_png(1500)
    with TestClient(create_app(settings, Services.open(settings, encoders=encoders, store=library["store"]))) as c:
        err = _error(_upload(c, png), 413, "payload_too_large")
        assert "MAX_SKETCH_PIXELS" in err["detail"] and err["limit"] == 1_000_000
        r = c.post("/search/hybrid", files={"image": ("big.png", png, "image/png")}, data={"limit": "3"})
        assert r.status_code == 200, r.text


def test_when_every_image_slot_is_busy_image_requests_get_503_with_retry_after(
    library: dict[str, Any], encoders: Encoders
) -> None:
    settings = library["settings"].model_copy(update={"IMAGE_SLOTS": 1, "IMAGE_SLOT_WAIT_S": 0.2})
    services = Services.open(settings, encoders=encoders, store=library["store"])
    sketch = png_bytes(shape_image(0, 0))
    with TestClient(create_app(settings, services)) as c:
        assert _upload(c, sketch).status_code == 200
        # Another request holds the only slot.
        c.portal.call(services.image_slots._semaphore.acquire_nowait)
        try:
            err = _error(_upload(c, sketch), 503, "busy")
            r = _upload(c, sketch)
            assert int(r.headers["retry-after"]) >= 1 and "IMAGE_SLOTS" in err["detail"]
            url = "data:image/png;base64," + base64.b64encode(sketch).decode()
            _error(c.post("/search/hybrid", json={"sketch": url}), 503, "busy")
            _error(c.post("/images/describe", files={"image": ("p.png", sketch, "image/png")}), 503, "busy")
            # Text-only searches decode nothing and never wait for a slot.
            assert c.post("/search/hybrid", json={"queryText": "circle"}).status_code == 200
        finally:
            c.portal.call(services.image_slots._semaphore.release)
        assert _upload(c, sketch).status_code == 200


def test_json_nested_too_deep_is_a_422_not_a_crash(client: TestClient) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    # Search reads its JSON with the seeds' snake_case adapter (json.loads first); generate with
    # pydantic's own parser; a form field carries JSON too (search's `filter`).
    r = client.post("/search/hybrid", content=deep, headers={"content-type": "application/json"})
    assert _error(r, 422, "invalid_input")["detail"] == "the body is JSON nested too deep."
    r = client.post("/images/generate", content=deep, headers={"content-type": "application/json"})
    assert "recursion limit" in _error(r, 422, "invalid_input")["detail"]
    r = client.post("/search/hybrid", data={"queryText": "x", "filter": deep})
    assert "nested too deep" in _error(r, 422, "invalid_input")["detail"]


def test_json_with_millions_of_values_is_413_before_it_is_parsed(client: TestClient) -> None:
    """Bytes alone do not bound a parsed body's memory: a list of small numbers is ~20x its size."""
    many = "[" + ",".join(["0.5"] * 200_000) + "]"
    r = client.post(
        "/images/generate",
        content='{"prompt": "a", "bogus": ' + many + "}",
        headers={"content-type": "application/json"},
    )
    assert "JSON values" in _error(r, 413, "payload_too_large")["detail"]
    r = client.post("/search/hybrid", data={"queryText": "x", "filter": '{"tagsAny": ' + many + "}"})
    assert "form field `filter`" in _error(r, 413, "payload_too_large")["detail"]
