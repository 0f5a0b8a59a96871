"""Bulk imports as jobs: uploads, ZIPs (bounded), folders under import roots, URLs."""

from __future__ import annotations

import io
import stat
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.errors import InvalidInputError, PayloadTooLargeError
from app.library.imports import ZipLimits, read_zip
from app.services import Services
from tests.api.conftest import png_bytes
from tests.conftest import shape_image, tiny_settings

LIMITS = ZipLimits(max_entries=50, max_total_bytes=50 * 1024 * 1024, max_ratio=100)


def _zip(entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in entries.items():
            z.writestr(name, body)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return buf.getvalue()


def test_zip_keeps_images_and_reports_what_it_skips() -> None:
    data = _zip({"a/one.png": png_bytes(shape_image(0, 1)), "notes.txt": b"hi"}, symlinks=("link.png",))
    files, skipped = read_zip(data, LIMITS)
    assert [n for n, _ in files] == ["a/one.png"]
    assert {s["path"]: s["reason"] for s in skipped} == {
        "notes.txt": "not an image file name",
        "link.png": "symbolic link",
    }


@pytest.mark.parametrize("name", ["../evil.png", "/abs/evil.png", "a/../../evil.png", "..\\evil.png", "C:/evil.png"])
def test_zip_entries_that_escape_are_refused(name: str) -> None:
    with pytest.raises(InvalidInputError, match="escape"):
        read_zip(_zip({name: b"x"}), LIMITS)


def test_zip_bombs_and_oversized_archives_are_refused_before_decompressing() -> None:
    with pytest.raises(PayloadTooLargeError, match="ZIP_MAX_RATIO"):
        read_zip(_zip({"bomb.png": b"\0" * (8 * 1024 * 1024)}), LIMITS)
    with pytest.raises(PayloadTooLargeError, match="ZIP_MAX_ENTRIES"):
        read_zip(_zip({f"{i}.png": b"x" for i in range(51)}), LIMITS)
    with pytest.raises(PayloadTooLargeError, match="ZIP_MAX_TOTAL_BYTES"):
        read_zip(_zip({"big.png": bytes(range(256)) * 4096}), ZipLimits(50, 1024, 1e9))


class _Images(BaseHTTPRequestHandler):
    body = b""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        ok = self.path == "/pic.png"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Length", str(len(self.body) if ok else 0))
        self.end_headers()
        if ok:
            self.wfile.write(self.body)


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("imports")
    allowed = tmp / "allowed"
    (allowed / "cats").mkdir(parents=True)
    for i in range(3):
        shape_image(0, 100 + i).save(allowed / "cats" / f"c{i}.png")
    settings = tiny_settings(tmp, IMPORT_ROOTS=[allowed], FETCH_ALLOW_PRIVATE=True, GENERATED_ROOT=tmp / "gen")
    services = Services.open(settings, encoders=encoders)
    _Images.body = png_bytes(shape_image(2, 55))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with TestClient(create_app(settings, services)) as client:
        yield {"client": client, "tmp": tmp, "allowed": allowed, "url": f"http://127.0.0.1:{server.server_port}"}
    server.shutdown()
    services.store.close()


def _wait(client: TestClient, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(location).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError("import job did not finish")


def test_uploads_and_zips_import_as_a_job_and_reimport_is_a_no_op(app_client: dict[str, Any]) -> None:
    client: TestClient = app_client["client"]
    pics = [png_bytes(shape_image(k, 10 + k)) for k in range(4)]
    archive = _zip({"z/a.png": pics[2], "z/b.png": pics[3], "z/dup.png": pics[0]})
    files = [
        ("files", ("p0.png", pics[0], "image/png")),
        ("files", ("p1.png", pics[1], "image/png")),
        ("files", ("set.zip", archive, "application/zip")),
    ]
    r = client.post("/libraries/default/imports", files=files, data={"tags": "imported, upload"})
    assert r.status_code == 202, r.text
    job = _wait(client, r.headers["location"])
    assert job["status"] == "succeeded", job
    assert (job["result"]["ingested"], job["result"]["skipped"]) == (4, 1)
    assert job["progress"]["step"] == job["progress"]["total"] == 5
    hit_id = job["result"]["ids"][0]
    assert client.get(f"/image/{hit_id}").status_code == 200, "imported files are served from IMAGES_ROOT"
    again = _wait(client, client.post("/libraries/default/imports", files=files).headers["location"])
    assert (again["result"]["ingested"], again["result"]["skipped"]) == (0, 5)


def test_folder_import_only_under_import_roots(app_client: dict[str, Any]) -> None:
    client: TestClient = app_client["client"]
    r = client.post("/libraries/default/imports", json={"folder": str(app_client["tmp"])})
    assert r.status_code == 403 and "IMPORT_ROOTS" in r.json()["error"]["message"]
    r = client.post("/libraries/default/imports", json={"folder": str(app_client["allowed"]), "tags": ["mine"]})
    job = _wait(client, r.headers["location"])
    assert job["result"]["ingested"] == 3 and not job["result"]["failed"]


def test_url_import_fetches_and_reports_failures(app_client: dict[str, Any]) -> None:
    client: TestClient = app_client["client"]
    base = app_client["url"]
    r = client.post(
        "/libraries/default/imports", json={"urls": [f"{base}/pic.png", f"{base}/missing.png", "file:///etc/passwd"]}
    )
    job = _wait(client, r.headers["location"])
    assert job["status"] == "succeeded"
    assert job["result"]["ingested"] == 1
    assert len(job["result"]["failed"]) == 2 and all(f["reason"] for f in job["result"]["failed"])


def test_failures_are_named_as_uploaded_not_by_server_path(app_client: dict[str, Any]) -> None:
    client: TestClient = app_client["client"]
    files = [("files", ("broken.png", b"\x89PNG not an image", "image/png"))]
    job = _wait(client, client.post("/libraries/default/imports", files=files).headers["location"])
    assert [f["path"] for f in job["result"]["failed"]] == ["broken.png"]


def test_bad_import_requests_are_4xx(app_client: dict[str, Any]) -> None:
    client: TestClient = app_client["client"]
    assert client.post("/libraries/default/imports", json={}).status_code == 422
    assert client.post("/libraries/default/imports", json={"urls": ["x"], "folder": "/tmp"}).status_code == 422
    assert client.post("/libraries/bad name!/imports", json={"urls": ["http://x"]}).status_code == 422
    r = client.post("/libraries/default/imports", files=[("files", ("x.zip", b"not a zip", "application/zip"))])
    assert r.status_code == 415
