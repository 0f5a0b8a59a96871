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
from PIL import Image

from app.api.app import create_app
from app.embedding import Encoders
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
