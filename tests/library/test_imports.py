"""Bulk imports as jobs: uploads, ZIPs (bounded), folders under import roots, URLs."""

from __future__ import annotations

import asyncio
import io
import stat
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.api.app import create_app
from app.embedding import Encoders
from app.errors import InvalidInputError, PayloadTooLargeError
from app.library.imports import ContentFolder, ImportOptions, ZipLimits, plan_zip
from app.library.imports.zips import declared_entries
from app.services import Services
from app.storage.schema import content_sha256
from tests.support.images import NEAR_THRESHOLD, near_copy, png_bytes, shape_image
from tests.support.settings import tiny_settings

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


def test_zip_keeps_images_and_reports_what_it_skips(tmp_path: Path) -> None:
    one = png_bytes(shape_image(0, 1))
    data = _zip({"a/one.png": one, "notes.txt": b"hi"}, symlinks=("link.png",))
    with plan_zip(data, LIMITS) as plan:
        extracted = list(plan.extract(ContentFolder(tmp_path, "lib")))
    assert [(n, p.read_bytes(), new) for n, p, new in extracted] == [("a/one.png", one, True)]
    assert {s["path"]: s["reason"] for s in plan.skipped} == {
        "notes.txt": "not an image file name",
        "link.png": "symbolic link",
    }


@pytest.mark.parametrize("name", ["../evil.png", "/abs/evil.png", "a/../../evil.png", "..\\evil.png", "C:/evil.png"])
def test_zip_entries_that_escape_are_refused(name: str) -> None:
    with pytest.raises(InvalidInputError, match="escape"):
        plan_zip(_zip({name: b"x"}), LIMITS)


def test_zip_bombs_and_oversized_archives_are_refused_before_decompressing() -> None:
    with pytest.raises(PayloadTooLargeError, match="ZIP_MAX_RATIO"):
        plan_zip(_zip({"bomb.png": b"\0" * (8 * 1024 * 1024)}), LIMITS)
    with pytest.raises(PayloadTooLargeError, match="ZIP_MAX_ENTRIES"):
        plan_zip(_zip({f"{i}.png": b"x" for i in range(51)}), LIMITS)
    with pytest.raises(PayloadTooLargeError, match="ZIP_MAX_TOTAL_BYTES"):
        plan_zip(_zip({"big.png": bytes(range(256)) * 4096}), ZipLimits(50, 1024, 1e9))


@pytest.mark.parametrize("name", [".", "./.", ""])
def test_zip_entries_without_a_file_name_are_refused(name: str) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ok.png", png_bytes(shape_image(0, 2)))
        z.writestr("placeholder", b"x")
        z.filelist[-1].filename = name  # zipfile will not write an empty name itself
    with pytest.raises(InvalidInputError, match="no file name"):
        plan_zip(buf.getvalue(), LIMITS)


class _Images(BaseHTTPRequestHandler):
    body = b""
    more: dict[str, bytes] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = self.body if self.path == "/pic.png" else self.more.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        if body is not None:
            self.wfile.write(body)


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("imports")
    allowed = tmp / "allowed"
    (allowed / "cats").mkdir(parents=True)
    for i in range(3):
        shape_image(0, 100 + i).save(allowed / "cats" / f"c{i}.png")
    # A second import root holding links out of it: to a file and to a folder.
    secret, linked = tmp / "secret", tmp / "linked"
    secret.mkdir()
    linked.mkdir()
    shape_image(0, 301).save(secret / "s.png")
    shape_image(2, 300).save(linked / "real.png")
    (linked / "escape.png").symlink_to(secret / "s.png")
    (linked / "tree").symlink_to(secret, target_is_directory=True)
    settings = tiny_settings(tmp, IMPORT_ROOTS=[allowed, linked], FETCH_ALLOW_PRIVATE=True, GENERATED_ROOT=tmp / "gen")
    services = Services.open(settings, encoders=encoders)
    _Images.body = png_bytes(shape_image(2, 55))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with TestClient(create_app(settings, services)) as client:
        yield {
            "client": client,
            "tmp": tmp,
            "allowed": allowed,
            "linked": linked,
            "secret": secret,
            "images": settings.IMAGES_ROOT,
            "url": f"http://127.0.0.1:{server.server_port}",
        }
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
    assert r.status_code == 403 and "IMPORT_ROOTS" in r.json()["detail"]
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
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("placeholder", b"x")
        z.filelist[-1].filename = "."
    fresh = png_bytes(shape_image(2, 777))
    sent = [("files", ("fresh.png", fresh, "image/png")), ("files", ("dot.zip", buf.getvalue(), "application/zip"))]
    r = client.post("/libraries/refused/imports", files=sent)
    assert r.status_code == 422 and "no file name" in r.json()["detail"]
    assert not (app_client["images"] / "imports" / "refused").exists(), "a refused request stages nothing"
    assert "refused" not in _listed(client), "nor registers a library"
    r = client.post("/libraries/default/imports", json={"urls": ["http://x"], "nearDuplicateThreshold": 1.5})
    assert r.status_code == 422
    many_tags = ",".join(f"t{i}" for i in range(65))
    r = client.post(
        "/libraries/default/imports", files=[("files", ("a.png", b"x", "image/png"))], data={"tags": many_tags}
    )
    assert r.status_code == 422 and "`tags`" in r.json()["detail"], "at most 64 tags, as an edit takes"
    r = client.post("/libraries/default/imports", json={"urls": ["http://x"], "tags": ["x" * 101]})
    assert r.status_code == 422 and "tags.0" in r.json()["detail"]
    bad_flag = {"skipNearDuplicates": "maybe"}
    r = client.post("/libraries/default/imports", files=[("files", ("a.png", b"x", "image/png"))], data=bad_flag)
    assert r.status_code == 422 and "skipNearDuplicates" in r.json()["detail"]


def _listed(client: TestClient) -> set[str]:
    return {lib["name"] for lib in client.get("/libraries").json()["libraries"]}


def test_an_import_into_a_library_without_a_record_registers_it(app_client: dict[str, Any]) -> None:
    """Without keys every library is the operator's to write; importing into a new name makes a
    library that GET /libraries lists (not points in a library no list shows)."""
    client: TestClient = app_client["client"]
    assert "sketchbook" not in _listed(client)
    files = [("files", ("s.png", png_bytes(shape_image(1, 901)), "image/png"))]
    job = _wait(client, client.post("/libraries/sketchbook/imports", files=files).headers["location"])
    assert job["result"]["ingested"] == 1
    assert "sketchbook" in _listed(client)
    shown = client.get("/libraries/sketchbook").json()
    assert (shown["images"], shown["visibility"], shown["owner"]) == (1, "private", None)
    again = client.post("/libraries/sketchbook/imports", files=files)  # registered once; a re-import is fine
    assert again.status_code == 202 and _wait(client, again.headers["location"])["status"] == "succeeded"


def test_a_library_is_not_deleted_under_its_running_import(
    app_client: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting a library while an import into it runs would leave the import's points in a
    library no list shows, their files swept: 409 naming the job until it has finished."""
    client: TestClient = app_client["client"]
    imports = client.app.state.services.imports  # type: ignore[attr-defined]
    entered, release = threading.Event(), threading.Event()
    real = imports._embed

    async def held(*args: Any) -> Any:
        entered.set()
        await asyncio.to_thread(release.wait, 60)
        return await real(*args)

    monkeypatch.setattr(imports, "_embed", held)
    files = [("files", ("r.png", png_bytes(shape_image(2, 902)), "image/png"))]
    location = client.post("/libraries/racing/imports", files=files).headers["location"]
    assert entered.wait(60)
    r = client.delete("/libraries/racing")
    job_id = location.rsplit("/", 1)[1]
    assert r.status_code == 409 and job_id in r.json()["detail"] and r.json()["jobs"] == [job_id]
    release.set()
    assert _wait(client, location)["result"]["ingested"] == 1
    gone = client.delete("/libraries/racing")
    assert gone.status_code == 200 and gone.json()["imagesRemoved"] == 1
    assert "racing" not in _listed(client) and client.get("/libraries/racing").status_code == 404


def _copies(images: Path, library: str) -> set[str]:
    return {p.name for p in (images / "imports" / library).rglob("*") if p.is_file()}


def test_folder_import_does_not_follow_symlinks_out_of_the_root(app_client: dict[str, Any]) -> None:
    client: TestClient = app_client["client"]
    r = client.post("/libraries/linked/imports", json={"folder": str(app_client["linked"])})
    job = _wait(client, r.headers["location"])
    assert job["status"] == "succeeded", job
    assert job["result"]["ingested"] == 1
    reasons = {Path(f["path"]).name: f["reason"] for f in job["result"]["failed"]}
    assert reasons == {
        "escape.png": "a symbolic link (links are not followed)",
        "tree": "a symbolic link to a folder (links are not followed)",
    }
    secret = content_sha256((app_client["secret"] / "s.png").read_bytes())
    assert not any(name.startswith(secret) for name in _copies(app_client["images"], "linked")), "never copied in"


def test_copied_in_files_that_got_no_point_are_removed(app_client: dict[str, Any]) -> None:
    client: TestClient = app_client["client"]
    images: Path = app_client["images"]
    kept = png_bytes(shape_image(1, 400))
    first = _wait(
        client,
        client.post("/libraries/tidy/imports", files=[("files", ("keep.png", kept, "image/png"))]).headers["location"],
    )
    assert first["result"]["ingested"] == 1
    assert _copies(images, "tidy") == {f"{content_sha256(kept)}.png"}
    # The same bytes under another extension (a duplicate of a stored point) and a broken file.
    files = [
        ("files", ("again.jpeg", kept, "image/jpeg")),
        ("files", ("broken2.png", b"\x89PNG broken two", "image/png")),
    ]
    second = _wait(client, client.post("/libraries/tidy/imports", files=files).headers["location"])
    assert (second["result"]["ingested"], second["result"]["skipped"]) == (0, 1)
    assert [f["path"] for f in second["result"]["failed"]] == ["broken2.png"]
    assert _copies(images, "tidy") == {f"{content_sha256(kept)}.png"}, "the stored point's file stays, the rest go"
    assert client.get(f"/image/{first['result']['ids'][0]}").status_code == 200


def test_near_duplicates_are_skipped_on_import_when_asked(
    app_client: dict[str, Any], encoders: Encoders, tmp_path: Path
) -> None:
    client: TestClient = app_client["client"]
    shape_image(0, 500).save(tmp_path / "orig.png")
    original, copy = (tmp_path / "orig.png").read_bytes(), near_copy(tmp_path / "orig.png")
    other = png_bytes(shape_image(1, 501))
    # Random tiny weights: measure that the copy is near and the other picture is not.
    v = encoders.clip.encode_images([Image.open(io.BytesIO(b)).convert("RGB") for b in (original, copy, other)])
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    assert float(v[0] @ v[1]) >= NEAR_THRESHOLD > float(v[0] @ v[2])

    def run(library: str, files: list[tuple[str, bytes]], **data: Any) -> dict[str, Any]:
        sent = [("files", (n, b, "image/png")) for n, b in files]
        r = client.post(f"/libraries/{library}/imports", files=sent, data=data)
        assert r.status_code == 202, r.text
        job = _wait(client, r.headers["location"])
        assert job["status"] == "succeeded", job
        return dict(job["result"])

    first = run("near", [("orig.png", original)])
    ask = {"skipNearDuplicates": "true", "nearDuplicateThreshold": str(NEAR_THRESHOLD)}
    second = run("near", [("copy.jpg", copy), ("other.png", other)], **ask)
    assert second["ingested"] == 1
    assert [(d["path"], d["duplicateOf"]) for d in second["nearDuplicates"]] == [("copy.jpg", first["ids"][0])]
    assert second["nearDuplicates"][0]["score"] >= NEAR_THRESHOLD
    assert f"{content_sha256(copy)}.jpg" not in _copies(app_client["images"], "near"), "the skipped copy is removed"
    # Without the option the copy is imported (the option, not chance, left it out) ...
    assert run("near", [("copy.jpg", copy)])["ingested"] == 1
    # ... and JSON imports take the option too: a URL serving the copy, into a library holding the original.
    run("near2", [("orig.png", original)])
    _Images.more = {"/copy.jpg": copy}
    url = f"{app_client['url']}/copy.jpg"
    body = {"urls": [url], "skipNearDuplicates": True, "nearDuplicateThreshold": NEAR_THRESHOLD}
    job = _wait(client, client.post("/libraries/near2/imports", json=body).headers["location"])
    assert job["result"]["ingested"] == 0 and [d["path"] for d in job["result"]["nearDuplicates"]] == [url]


def test_an_import_cancelled_before_it_ran_removes_the_uploads_it_stored(tmp_path: Path, encoders: Encoders) -> None:
    import anyio

    services = Services.open(tiny_settings(tmp_path), encoders=encoders)
    assert services.imports is not None and services.jobs is not None
    imports, jobs = services.imports, services.jobs
    body = png_bytes(shape_image(1, 600))
    sha = content_sha256(body)
    stored = Path(services.settings.IMAGES_ROOT) / "imports" / "gone" / sha[:2] / f"{sha}.png"

    async def scenario() -> str:
        # The queue is not started yet, so the job waits `queued` with its upload on disk.
        job = await imports.submit_files(ImportOptions("gone", ["x"]), [("a.png", body)])
        assert stored.is_file()
        await jobs.cancel(job.id)
        await jobs.start()
        try:
            deadline = time.monotonic() + 30
            while stored.exists() and time.monotonic() < deadline:
                await anyio.sleep(0.05)
            return (await jobs.get(job.id)).status
        finally:
            await jobs.stop()

    try:
        assert anyio.run(scenario) == "cancelled"
    finally:
        services.store.close()
    assert not stored.exists(), "a job that never runs releases what its request stored"


def test_a_folder_with_a_nul_byte_is_invalid_input_not_a_crash(app_client: dict[str, Any]) -> None:
    client: TestClient = app_client["client"]
    r = client.post("/libraries/default/imports", json={"folder": "data\u0000/x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "folder"


def _zip64(entries: dict[str, bytes]) -> bytes:
    """A ZIP with a ZIP64 end record, its classic end record saying 0xFFFF entries (as one with
    more than 65,535 entries has), without writing 65,536 of them."""
    limit = zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP_FILECOUNT_LIMIT = 1  # type: ignore[misc]  # forces the ZIP64 end record
    try:
        data = bytearray(_zip(entries))
    finally:
        zipfile.ZIP_FILECOUNT_LIMIT = limit  # type: ignore[misc]
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = b"\xff\xff\xff\xff"  # entries on this disk, entries in all
    return bytes(data)


@pytest.mark.parametrize("make", [_zip, _zip64])
def test_a_zip_declaring_too_many_entries_is_refused_before_its_directory_is_read(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """zipfile holds every central-directory entry in memory (~0.5 KB each: a 51 MB ZIP of a
    million empty entries is ~450 MB): the count comes from the end record first."""
    data = make({f"{i}.png": b"" for i in range(25)})
    assert declared_entries(io.BytesIO(data), len(data)) == 25
    with zipfile.ZipFile(io.BytesIO(data)) as readable:
        assert len(readable.infolist()) == 25, "a ZIP zipfile reads as such"

    def unread(*_: Any, **__: Any) -> Any:
        raise AssertionError("the central directory was parsed")

    monkeypatch.setattr(zipfile, "ZipFile", unread)
    with pytest.raises(PayloadTooLargeError, match="declares 25 entries.*ZIP_MAX_ENTRIES"):
        plan_zip(data, ZipLimits(max_entries=10, max_total_bytes=1 << 20, max_ratio=100))
