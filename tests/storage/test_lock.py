"""The embedded store belongs to one process: a second one fails fast and clearly, and no data is lost.

Covers a second opener, two processes creating the same store at once, a second ingestion
while a server holds the store, and `uvicorn --workers 2` on the embedded store.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.errors import StoreLockedError
from app.storage.edge import EdgeStore
from tests.support.settings import TINY_MODEL

ROOT = Path(__file__).resolve().parents[2]

# Opens (or creates) the store, writes `n` points, says so, then holds the store for `hold`
# seconds or until its stdin closes.
HOLDER = textwrap.dedent(
    """
    import select, sys
    from pathlib import Path
    from app.errors import StoreLockedError
    from app.storage.edge import EdgeStore
    from app.storage.schema import CollectionSchema
    from app.storage.types import PointRecord
    path, n, hold = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    try:
        store = EdgeStore(path, "c")
        store.ensure(CollectionSchema(4, 4, {"model": "m", "pretrained": "p"}), writing=True)
        store.upsert([
            PointRecord(f"00000000-0000-0000-0000-{i:012d}", {"image": [1.0, 0, 0, i + 1.0]}, {"path": f"{i}.png"})
            for i in range(n)
        ])
    except StoreLockedError as e:
        print("LOCKED", e.message, flush=True)
        sys.exit(3)
    print("READY", flush=True)
    select.select([sys.stdin], [], [], hold)  # hold the store `hold` s, or until stdin closes
    store.close()
    """
)


def _holder(path: Path, n: int, hold: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(n), str(hold)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY"), line + (proc.stderr.read() if proc.stderr else "")


def test_a_second_process_gets_store_locked_then_the_data_is_intact(tmp_path: Path) -> None:
    holder = _holder(tmp_path / "q", 5, 60)
    try:
        _wait_ready(holder)
        started = time.monotonic()
        with pytest.raises(StoreLockedError, match="open in another process.*QDRANT_URL"):
            EdgeStore(tmp_path / "q", "c")
        assert time.monotonic() - started < 2, "fails fast, does not wait for the lock"
        # A SIGKILLed holder leaves no stale lock behind (the kernel drops it with the process).
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    finally:
        if holder.poll() is None:
            holder.kill()
    store = EdgeStore(tmp_path / "q", "c")
    try:
        assert store.count() == 5
    finally:
        store.close()


def test_two_processes_creating_the_same_store_at_once_one_wins(tmp_path: Path) -> None:
    procs = [_holder(tmp_path / "q", 3, 120) for _ in range(3)]
    deadline = time.monotonic() + 120
    while sum(p.poll() is not None for p in procs) < 2:  # the winner holds on until both lost
        assert time.monotonic() < deadline, "two openers should have been refused"
        time.sleep(0.1)
    outs = [p.communicate(timeout=120) for p in procs]  # closes the winner's stdin: it lets go
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3, 3], outs
    assert sum("LOCKED" in out for out, _ in outs) == 2
    store = EdgeStore(tmp_path / "q", "c")
    try:
        assert store.count() == 3
    finally:
        store.close()


def test_ingesting_while_another_process_holds_the_store_exits_with_a_clear_message(
    tmp_path: Path, image_folder: Path
) -> None:
    holder = _holder(tmp_path / "qdrant", 2, 120)
    try:
        _wait_ready(holder)
        env = {**os.environ, **TINY_MODEL, "QDRANT_PATH": str(tmp_path / "qdrant"), "COLLECTION": "c"}
        out = subprocess.run(
            [sys.executable, "qdrant/embed_and_upsert.py", "--images-dir", str(image_folder), "--limit", "3"],
            cwd=ROOT,
            env={**env, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        holder.kill()
        holder.wait()
    assert out.returncode == 2, out.stderr[-2000:]
    assert "is open in another process" in out.stderr


@pytest.mark.timeout(240)
def test_several_uvicorn_workers_on_the_embedded_store_stop_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        **TINY_MODEL,
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "THUMBS_ROOT": str(tmp_path / "thumbs"),
        "IMAGES_ROOT": str(tmp_path / "none"),
        "AUTO_INGEST": "false",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    cmd = [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=200)
    log = out.stdout + out.stderr
    assert "is open in another process" in log, log[-3000:]
    assert "Application startup failed" in log
    # The worker that did open the store shut down cleanly: the store opens again.
    store = EdgeStore(tmp_path / "qdrant", "clippy")
    store.close()
