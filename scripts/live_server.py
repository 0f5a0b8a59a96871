"""A throwaway Clippy server on loopback: `clippy serve` (as users start it) in a child process, on the tiny
random-weight model the tests use (tests/fixtures/model_configs), its store and files under
one folder. For the attack battery, the crash tests and the load test: they need a real
process (to SIGKILL it, to measure its RSS, to reach it over a socket), not a TestClient.

    with LiveServer.tiny(Path("/tmp/run")) as server:
        httpx.get(server.url + "/readyz")
        server.kill()            # SIGKILL, as a crash
        server.start()           # the same folder again, as a restart
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = {
    "MODEL_CONFIGS": str(ROOT / "tests" / "fixtures" / "model_configs"),
    "MODEL_NAME": "clippy-tiny",
    "PRETRAINED": "random",
    "TEXT_MODEL": "clip",
    "DEVICE": "cpu",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tiny_env(base: Path, **extra: Any) -> dict[str, str]:
    """Settings for a server whose every file lives under `base` (the tiny model, no network)."""
    env = {
        **os.environ,
        **TINY_MODEL,
        "QDRANT_PATH": str(base / "qdrant"),
        "THUMBS_ROOT": str(base / "thumbs"),
        "IMAGES_ROOT": str(base / "images"),
        "GENERATED_ROOT": str(base / "generated"),
        "EMBED_CACHE_PATH": str(base / "embed_cache.sqlite"),
        "AUTO_INGEST": "false",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "LOG_FORMAT": "json",
        "JOB_DRAIN_S": "0",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


class LiveServer:
    """One server process at a time on a fixed port; `start()` again after `kill()`/`stop()`."""

    def __init__(self, env: dict[str, str], port: int | None = None, log: Path | None = None) -> None:
        self.env = env
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def tiny(cls, base: Path, **extra: Any) -> LiveServer:
        base.mkdir(parents=True, exist_ok=True)
        (base / "images").mkdir(exist_ok=True)
        return cls(tiny_env(base, **extra), log=base / "server.log")

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self, ready_s: float = 120.0) -> LiveServer:
        cmd = [sys.executable, "-m", "app.commands", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # the child writes to it
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"the server was not ready within {ready_s:g} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: no lifespan stop, no drain, nothing flushed — a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss_bytes(self) -> int:
        """The server's resident set size now (Linux /proc)."""
        return self.rss_of(self.pid)

    @staticmethod
    def rss_of(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:  # gone
            pass
        return 0

    def __enter__(self) -> LiveServer:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
