"""Every process can be killed at any instant and restarted without leaving files, records or
locks behind (issue 18): each write path is SIGKILLed at seeded random points, restarted, and
the invariants of tests/support/invariants.py checked — every point's file exists, every file
the library wrote (imports, addToLibrary copies) has a point once the start-up sweep ran,
every thumbnail belongs to a point, no job is left `running`, and the store opens (no lock).
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from live_server import LiveServer
from tests.support.cli import ROOT, cli_env
from tests.support.images import png_bytes, shape_image
from tests.support.invariants import violations
from tests.support.tiny_sdxl import TinySdxl, build_tiny_sdxl

COLLECTION = "clippy"


def _check(base: Path, collection: str = COLLECTION) -> None:
    found = violations(base / "qdrant", collection, base / "images", base / "thumbs")
    assert found == [], "\n".join(found)


def _pngs(n: int, seed: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"p{i}.png", png_bytes(shape_image(i % 5, seed + i)), "image/png")) for i in range(n)]


def _wait_job(client: httpx.Client, job_id: str, *statuses: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, object] = client.get(f"/jobs/{job_id}").json()
        if job["status"] in statuses or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


@pytest.fixture(scope="module")
def tiny_sdxl(tmp_path_factory: pytest.TempPathFactory) -> TinySdxl:
    return build_tiny_sdxl(tmp_path_factory.mktemp("tiny-sdxl"))


def _restart_and_stop(server: LiveServer) -> None:
    """A restart (its start-up sweep included), then a clean stop so the store can be opened."""
    server.start()
    server.stop()


@pytest.mark.timeout(180)
def test_an_import_killed_mid_job_leaves_no_staged_file_without_a_point(tmp_path: Path) -> None:
    # Grace 0: the restart's sweep takes every unreferenced staged file (no other worker here).
    server = LiveServer.tiny(tmp_path, IMPORT_ORPHAN_GRACE_S=0)
    rng = random.Random(18)
    killed_running = 0
    try:
        server.start()
        for round_ in range(2):
            with httpx.Client(base_url=server.url, timeout=30) as client:
                r = client.post("/libraries/default/imports", files=_pngs(16, 100 * round_))
                assert r.status_code == 202, r.text
                job_id = r.json()["id"]
                _wait_job(client, job_id, "running", "succeeded", "failed")
                time.sleep(rng.uniform(0.0, 0.6))
                before = client.get(f"/jobs/{job_id}").json()["status"]
            server.kill()
            killed_running += before in ("queued", "running")
            server.start()  # its start-up sweep runs here
            with httpx.Client(base_url=server.url, timeout=30) as client:
                # The in-process queue forgets its jobs: never one left `running`.
                assert client.get(f"/jobs/{job_id}").status_code == 404
        server.stop()
        _check(tmp_path)
    finally:
        server.kill()
    assert killed_running >= 1, "at least one kill landed while the import ran"


@pytest.mark.timeout(180)
def test_deletes_killed_mid_flight_leave_no_thumbnail_or_file_without_a_point(tmp_path: Path) -> None:
    server = LiveServer.tiny(tmp_path, IMPORT_ORPHAN_GRACE_S=0)
    rng = random.Random(7)
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            r = client.post("/libraries/default/imports", files=_pngs(12, 500))
            job = _wait_job(client, r.json()["id"], "succeeded", "failed")
            assert job["status"] == "succeeded", job
            ids = list(job["result"]["ids"])  # type: ignore[index]
            for image_id in ids:
                assert client.get(f"/thumb/{image_id}").status_code == 200

        def delete(image_id: str) -> None:
            try:
                httpx.delete(f"{server.url}/images/{image_id}", timeout=30)
            except httpx.HTTPError:
                pass  # the server died under it: that is the point

        threads = [threading.Thread(target=delete, args=(i,)) for i in ids]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.0, 0.3))
        server.kill()
        for t in threads:
            t.join()
        _restart_and_stop(server)
        _check(tmp_path)
    finally:
        server.kill()


@pytest.mark.timeout(240)
def test_clippy_ingest_killed_at_random_points_then_rerun_ends_whole(tmp_path: Path) -> None:
    images = tmp_path / "images"
    for i in range(30):
        (images / f"k{i % 5}").mkdir(parents=True, exist_ok=True)
        shape_image(i % 5, 900 + i).save(images / f"k{i % 5}" / f"img_{i:02d}.png")
    env = {**cli_env(tmp_path), "COLLECTION": COLLECTION, "THUMBS_ROOT": str(tmp_path / "thumbs")}
    args = ["-m", "app.commands", "ingest", "--images-dir", str(images), "--upsert-batch", "4", "--clip-batch", "4"]
    rng = random.Random(5)
    kills = 0
    for _ in range(2):
        target, extra = rng.randint(5, 90), rng.uniform(0.0, 0.3)
        proc = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        buf, deadline = "", time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            buf += proc.stderr.read(32) or ""
            pct = [int(p) for p in re.findall(r"(\d+)%\|", buf)]
            if pct and pct[-1] >= target:
                time.sleep(extra)
                break
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        _check(tmp_path)  # after every kill: the store opens, nothing half-written is visible
    assert kills >= 1, "most runs were killed before they finished"
    done = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    _check(tmp_path)
    from app.storage.edge import EdgeStore

    store = EdgeStore(tmp_path / "qdrant", COLLECTION)
    try:
        assert store.count() == 30, "every image once, whatever the kills"
    finally:
        store.close()


@pytest.mark.timeout(240)
def test_a_generation_with_add_to_library_killed_mid_job_leaves_no_copy_without_a_point(
    tmp_path: Path, tiny_sdxl: TinySdxl
) -> None:
    server = LiveServer.tiny(tmp_path, IMPORT_ORPHAN_GRACE_S=0, **tiny_sdxl.env())
    rng = random.Random(3)
    body = {"prompt": "a red circle", "width": 64, "height": 64, "steps": 3, "n": 3, "addToLibrary": True}
    killed_running = 0
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as client:
            # One that finishes, so the invariants also see copies that do have points.
            r = client.post("/images/generate", json=body)
            assert r.status_code == 202, r.text
            done = _wait_job(client, r.json()["id"], "succeeded", "failed", timeout=120)
            assert done["status"] == "succeeded", done
        with httpx.Client(base_url=server.url, timeout=60) as client:
            # A longer one to kill: ten steps per image leave room for a random point inside it.
            job_id = client.post("/images/generate", json={**body, "steps": 10}).json()["id"]
            _wait_job(client, job_id, "running", "succeeded", "failed")
            time.sleep(rng.uniform(0.0, 0.4))
            before = client.get(f"/jobs/{job_id}").json()["status"]
        server.kill()
        killed_running += before in ("queued", "running")
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get(f"/jobs/{job_id}").status_code == 404, "no job left running"
        server.stop()
        _check(tmp_path)
    finally:
        server.kill()
    assert killed_running >= 1, "at least one kill landed while the generation ran"
