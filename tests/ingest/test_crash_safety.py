"""Ingestion killed with SIGKILL at random moments, then resumed: the collection ends complete.

Complements tests/ingest/test_cli.py (kills at fixed progress points) with seeded random kill
points, mid-batch, and checks every point is whole: all three dense views, the payload, once.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.storage.edge import EdgeStore
from tests.support.cli import ROOT, cli_env


@pytest.mark.timeout(600)
def test_random_sigkills_then_resume_leave_every_point_whole_and_unique(tmp_path: Path, image_folder: Path) -> None:
    env = cli_env(tmp_path)
    args = [
        "qdrant/embed_and_upsert.py",
        "--images-dir",
        str(image_folder),
        "--upsert-batch",
        "3",
        "--clip-batch",
        "5",
        "--workers",
        "2",
        "--errors-file",
        str(tmp_path / "errors.jsonl"),
    ]
    rng = random.Random(10)
    kills = 0
    for _ in range(4):
        target, extra = rng.randint(3, 95), rng.uniform(0.0, 0.4)
        proc = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        buf, deadline = "", time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            buf += proc.stderr.read(32) or ""
            pct = [int(p) for p in re.findall(r"(\d+)%\|", buf)]
            if pct and pct[-1] >= target:
                time.sleep(extra)  # land between progress updates, mid-batch
                break
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 3, "most runs were killed before they finished"
    done = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["collection_points"] == 100

    store = EdgeStore(tmp_path / "qdrant", "cli")
    try:
        points, offset = [], None
        while True:
            page, offset = store.scroll(limit=50, offset=offset, with_vectors=True)
            points += page
            if offset is None:
                break
        assert store.count() == 100
    finally:
        store.close()
    ids = [p.id for p in points]
    assert len(ids) == len(set(ids)) == 100
    paths = [p.payload.get("path") for p in points]
    assert len(set(paths)) == 100, "each image once"
    for p in points:
        assert set(p.vectors) == {"image", "edge", "text", "shape"}, (p.id, sorted(p.vectors))
        for name, vec in p.vectors.items():
            size = 576 if name == "shape" else 32  # the HOG descriptor vs the tiny model's width
            assert vec.shape == (size,) and np.isfinite(vec).all() and np.linalg.norm(vec) > 0, (p.id, name)
        assert p.payload.get("sha256") and p.payload.get("tags") is not None, p.payload
