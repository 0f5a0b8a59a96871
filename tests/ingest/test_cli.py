"""The entry points as a user runs them: by path, killed and resumed, fed by a fake booru."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.support.cli import ROOT, cli_env, run_python
from tests.support.images import shape_image


def _info(env: dict[str, str]) -> dict[str, Any]:
    out = run_python(["-m", "app.commands", "info", "--json"], env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _ids(tmp_path: Path) -> list[str]:
    from app.storage.edge import EdgeStore

    store = EdgeStore(tmp_path / "qdrant", "cli")
    ids: list[str] = []
    offset = None
    while True:
        page, offset = store.scroll(limit=100, offset=offset)
        ids += [p.id for p in page]
        if offset is None:
            break
    store.close()
    return ids


def test_killed_ingest_resumes_to_a_complete_collection_without_duplicates(tmp_path: Path, image_folder: Path) -> None:
    env = cli_env(tmp_path)
    args = [
        "qdrant/embed_and_upsert.py",
        "--images-dir",
        str(image_folder),
        "--upsert-batch",
        "4",
        "--clip-batch",
        "4",
        "--workers",
        "1",
        "--errors-file",
        str(tmp_path / "errors.jsonl"),
    ]
    for attempt in range(3):
        proc = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        buf = ""
        deadline = time.monotonic() + 300
        # Kill as soon as tqdm reports progress past a point that moves on each attempt.
        while time.monotonic() < deadline:
            buf += proc.stderr.read(64) or ""
            pct = [int(p) for p in __import__("re").findall(r"(\d+)%\|", buf)]
            if pct and pct[-1] >= 15 * (attempt + 1) or proc.poll() is not None:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = run_python(args, env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["collection_points"] == 100
    ids = _ids(tmp_path)
    assert len(ids) == len(set(ids)) == 100
    assert summary["skipped"] > 0, "the resumed run found work already done"
    info = _info(env)
    assert info["points"] == 100
    assert info["model"] == "clippy-tiny"
    assert info["vectors"] == {"image": 32, "edge": 32, "text": 32, "shape": 576}
    assert info["edgeVersion"] and info["shapeVersion"]


class FakeBooru(BaseHTTPRequestHandler):
    posts: list[dict[str, Any]] = []
    images: dict[str, bytes] = {}
    flaky: set[str] = set()
    unsized: set[str] = set()  # sent without Content-Length: only counting while streaming sees the size
    broken_tags: dict[str, tuple[int, bytes]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/index.php":
            q = parse_qs(url.query)
            if q["tags"][0] in self.broken_tags:
                self._send(*self.broken_tags[q["tags"][0]], "application/json")
                return
            tags = set(q["tags"][0].split())
            page, limit = int(q["pid"][0]), int(q["limit"][0])
            rows = [p for p in self.posts if tags <= set(p["tags"].split())]
            body = json.dumps(rows[page * limit : (page + 1) * limit]).encode()
            self._send(200, body, "application/json")
        elif url.path in self.images:
            if url.path in self.flaky:  # the first request fails: the client must retry
                self.flaky.discard(url.path)
                self._send(503, b"busy", "text/plain")
                return
            self._send(200, self.images[url.path], "image/png", sized=url.path not in self.unsized)
        else:
            self._send(404, b"", "text/plain")

    def _send(self, status: int, body: bytes, ctype: str, sized: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if sized:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def booru(tmp_path: Path) -> Iterator[str]:
    import io

    posts, images = [], {}
    for i in range(12):
        tags = ["cat", "solo"] if i % 2 else ["dog", "solo"]
        buf = io.BytesIO()
        shape_image(i % 4, i).save(buf, format="PNG")
        images[f"/images/{i % 3}/p{i}.png"] = buf.getvalue()
        posts.append({"id": 100 + i, "directory": str(i % 3), "image": f"p{i}.png", "tags": " ".join(tags)})
    FakeBooru.posts, FakeBooru.images, FakeBooru.flaky = posts, images, {"/images/0/p3.png"}
    FakeBooru.unsized, FakeBooru.broken_tags = set(), {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBooru)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_fake_booru_download_then_ingest_end_to_end(tmp_path: Path, booru: str) -> None:
    env = cli_env(tmp_path)
    (tmp_path / "tags.txt").write_text("cat\ndog\n")
    out = tmp_path / "booru"
    fetch = [
        "scripts/retrieve_safebooru.py",
        "--tags-file",
        str(tmp_path / "tags.txt"),
        "--out",
        str(out),
        "--union",
        "--workers",
        "3",
        "--per-page",
        "5",
        "--delay",
        "0",
        "--base-url",
        booru,
    ]
    got = run_python(fetch, env)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["downloaded"] == 12
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and all((out / r["path"]).is_file() for r in rows)
    again = run_python([*fetch, "--resume"], env)
    assert json.loads(again.stdout) | {} == {**json.loads(again.stdout), "downloaded": 0, "already": 12}

    ingest = run_python(
        [
            "-m",
            "app.commands",
            "ingest",
            "--manifest",
            str(out / "manifest.jsonl"),
            "--images-root",
            str(out),
            "--errors-file",
            str(tmp_path / "e.jsonl"),
        ],
        env,
    )
    assert ingest.returncode == 0, ingest.stderr
    assert _info(env)["points"] == 12
    assert f"run the server with IMAGES_ROOT={out.resolve()}" in ingest.stderr, "the root differs from IMAGES_ROOT"


def test_fake_booru_names_sizes_and_listing_errors_stay_contained(tmp_path: Path, booru: str) -> None:
    small = FakeBooru.images["/images/0/p0.png"]
    big = small * 8
    FakeBooru.images |= {"/x/escape.png": small, "/x/win.png": small, "/x/declared.png": big, "/x/streamed.png": big}
    FakeBooru.unsized = {"/x/streamed.png"}
    FakeBooru.posts = [
        {"id": 900, "image": "../../../escape.png", "file_url": f"{booru}/x/escape.png", "tags": "evil"},
        {"id": 901, "image": "..\\..\\win.png", "file_url": f"{booru}/x/win.png", "tags": "evil"},
        {"id": 902, "image": "declared.png", "file_url": f"{booru}/x/declared.png", "tags": "evil"},
        {"id": 903, "image": "streamed.png", "file_url": f"{booru}/x/streamed.png", "tags": "evil"},
        {"id": "oops", "image": "noid.png", "tags": "evil"},
    ]
    FakeBooru.broken_tags = {"broken": (404, b"no"), "garbled": (200, b"<html>not json")}
    (tmp_path / "tags.txt").write_text("broken\nevil\ngarbled\n")
    out = tmp_path / "sub" / "booru"
    got = run_python(
        [
            "scripts/retrieve_safebooru.py",
            "--tags-file",
            str(tmp_path / "tags.txt"),
            "--out",
            str(out),
            "--union",
            "--delay",
            "0",
            "--retries",
            "0",
            "--max-bytes",
            str(len(small) * 4),
            "--base-url",
            booru,
        ],
        os.environ.copy(),
    )
    assert got.returncode == 0, got.stderr
    assert "Traceback" not in got.stderr
    summary = json.loads(got.stdout)
    assert summary["listing_failed"] == ["broken", "garbled"]
    assert (summary["downloaded"], summary["failed"]) == (2, 2)
    assert sorted(p.name for p in (out / "images").iterdir()) == ["900_escape.png", "901_win.png"], "no .part left"
    assert not [p for p in tmp_path.rglob("*.png") if (out / "images") not in p.parents], "nothing outside --out"
    assert "Content-Length" in got.stderr and "while downloading" in got.stderr
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(r["path"] for r in rows) == ["images/900_escape.png", "images/901_win.png"]


def test_ingest_refuses_files_outside_the_images_root_and_notes_another_root(tmp_path: Path) -> None:
    lib, elsewhere = tmp_path / "lib", tmp_path / "elsewhere"
    lib.mkdir()
    elsewhere.mkdir()
    shape_image(0, 1).save(lib / "a.png")
    shape_image(1, 2).save(lib / "b.png")
    shape_image(2, 3).save(elsewhere / "c.png")
    (elsewhere / "link.png").symlink_to(lib / "a.png")
    rows = [{"path": "a.png"}, {"path": "b.png"}, {"path": str(elsewhere / "c.png")}]
    (lib / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {**cli_env(tmp_path), "IMAGES_ROOT": str(lib)}
    errors = tmp_path / "errors.jsonl"
    got = run_python(
        ["qdrant/embed_and_upsert.py", "--manifest", str(lib / "manifest.jsonl"), "--errors-file", str(errors)], env
    )
    assert got.returncode == 0, got.stderr
    summary = json.loads(got.stdout.strip().splitlines()[-1])
    assert (summary["ingested"], summary["failed"]) == (2, 1)
    failure = json.loads(errors.read_text())
    assert failure["path"] == str((elsewhere / "c.png").resolve())
    assert failure["reason"] == f"outside IMAGES_ROOT={lib.resolve()}; set IMAGES_ROOT or pass --images-root"
    assert "note:" not in got.stderr, "the root is IMAGES_ROOT: nothing to say"

    # Another root: allowed, with a note that the server must serve from it; links are not followed.
    got = run_python(["qdrant/embed_and_upsert.py", "--images-dir", str(elsewhere), "--errors-file", str(errors)], env)
    assert got.returncode == 0, got.stderr
    assert f"run the server with IMAGES_ROOT={elsewhere.resolve()}" in got.stderr
    summary = json.loads(got.stdout.strip().splitlines()[-1])
    assert (summary["ingested"], summary["failed"]) == (1, 1)
    assert json.loads(errors.read_text())["reason"] == "a symbolic link (links are not followed)"


def test_scripts_explain_themselves(tmp_path: Path) -> None:
    for script in ("qdrant/embed_and_upsert.py", "scripts/backfill_vectors.py", "scripts/retrieve_safebooru.py"):
        out = run_python([script, "--help"], os.environ.copy())
        assert out.returncode == 0 and "Example" in out.stdout, script
    for command in ("ingest", "backfill", "fetch-booru"):
        out = run_python(["-m", "app.commands", command, "--help"], os.environ.copy())
        assert out.returncode == 0 and "Example" in out.stdout, command


def test_every_program_runs_by_path_from_another_folder(tmp_path: Path) -> None:
    """No program edits sys.path: each imports the installed `app`, and its siblings by plain
    name (Python puts the program's own folder first on the path)."""
    programs = sorted(
        path
        for folder in (ROOT / "qdrant", ROOT / "scripts")
        for path in folder.glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text()
    )
    assert len(programs) > 10
    # `app` alone on the path, as an installed package is: nothing else of the checkout is.
    site = tmp_path / "site"
    site.mkdir()
    (site / "app").symlink_to(ROOT / "app")
    env = {**os.environ, "PYTHONPATH": str(site)}
    for program in programs:
        out = run_python([str(program), "--help"], env, cwd=tmp_path)
        assert out.returncode == 0 and "usage:" in out.stdout.lower(), (program.name, out.stderr[-2000:])
