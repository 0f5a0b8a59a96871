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

from tests.conftest import TINY_MODEL, shape_image

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        **TINY_MODEL,
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "COLLECTION": "cli",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _info(env: dict[str, str]) -> dict[str, Any]:
    out = _run(["-m", "app.cli", "info", "--json"], env)
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
    env = _env(tmp_path)
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
    done = _run(args, env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["collection_points"] == 100
    ids = _ids(tmp_path)
    assert len(ids) == len(set(ids)) == 100
    assert summary["skipped"] > 0, "the resumed run found work already done"
    info = _info(env)
    assert info["points"] == 100
    assert info["model"] == "clippy-tiny"
    assert info["vectors"] == {"image": 32, "edge": 32, "text": 32}
    assert info["edgeVersion"]


class FakeBooru(BaseHTTPRequestHandler):
    posts: list[dict[str, Any]] = []
    images: dict[str, bytes] = {}
    flaky: set[str] = set()

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/index.php":
            q = parse_qs(url.query)
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
            self._send(200, self.images[url.path], "image/png")
        else:
            self._send(404, b"", "text/plain")

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
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
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBooru)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_fake_booru_download_then_ingest_end_to_end(tmp_path: Path, booru: str) -> None:
    env = _env(tmp_path)
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
    got = _run(fetch, env)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["downloaded"] == 12
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and all((out / r["path"]).is_file() for r in rows)
    again = _run([*fetch, "--resume"], env)
    assert json.loads(again.stdout) | {} == {**json.loads(again.stdout), "downloaded": 0, "already": 12}

    ingest = _run(
        [
            "-m",
            "app.cli",
            "ingest",
            "--manifest",
            str(out / "manifest.jsonl"),
            "--errors-file",
            str(tmp_path / "e.jsonl"),
        ],
        env,
    )
    assert ingest.returncode == 0, ingest.stderr
    assert _info(env)["points"] == 12


def test_scripts_explain_themselves(tmp_path: Path) -> None:
    for script in ("qdrant/embed_and_upsert.py", "scripts/backfill_vectors.py", "scripts/retrieve_safebooru.py"):
        out = _run([script, "--help"], os.environ.copy())
        assert out.returncode == 0 and "Example" in out.stdout, script
