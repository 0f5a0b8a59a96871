"""The service starts the way the image and Compose start it, as an unprivileged user, from a
read-only copy of the app directory where only the volumes are writable.

The environment is the files' own (tests/ship/container.py): the Dockerfile's `ENV`, then for
Compose `.env` and the service's `environment:`. The test only (1) maps the container's
absolute paths onto temporary folders, (2) points the service hostnames `qdrant` and `redis`
at stand-ins (qdrant-client's local mode, a throwaway redis-server) and (3) picks the tiny
random-weight model instead of downloading one. A path setting that resolves inside the app
directory, or a default that writes there, fails here as it would in the container.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from tests.ship.container import Stage, parse_compose, parse_dockerfile
from tests.support.jobs import free_port
from tests.support.settings import TINY_MODEL

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534
START_S = 300  # a busy 2-core machine: torch, open_clip and the sample library's ingest


@dataclass
class Sandbox:
    """Host folders standing in for the container's filesystem."""

    root: Path
    mounts: dict[str, Path]  # container path -> host folder, longest prefix wins
    # How the service runs: as ourselves (not root), as uid `uid` (we are root), or as root
    # without capabilities (uid None, `drop_caps`), which file modes bind like any user.
    uid: int | None
    drop_caps: bool = False

    def host(self, value: str) -> str:
        for prefix in sorted(self.mounts, key=len, reverse=True):
            if value == prefix or value.startswith(prefix.rstrip("/") + "/"):
                return str(self.mounts[prefix]) + value[len(prefix.rstrip("/")) :]
        return value

    def writable(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        for p in [path, *path.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)  # a copy of the read-only app's files too
            if self.uid is not None:
                os.chown(p, self.uid, self.uid)
        return path

    def argv(self, command: list[str]) -> list[str]:
        if self.drop_caps:
            return ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", *command]
        if self.uid is None:
            return command
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", *command]


def _read_only(tree: Path) -> None:
    for p in [tree, *tree.rglob("*")]:
        mode = p.lstat().st_mode
        if not stat.S_ISLNK(mode):
            p.chmod(stat.S_IMODE(mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) | stat.S_IRUSR | stat.S_IROTH)


def _unlock(tree: Path) -> None:
    for p in [tree, *tree.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)


@pytest.fixture
def image() -> Stage:
    return parse_dockerfile(ROOT / "Dockerfile")


@pytest.fixture
def sandbox(image: Stage) -> Iterator[Sandbox]:
    uid: int | None = None
    drop_caps = False
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: a read-only app directory would not bind root")
        # Another uid, when it runs this very interpreter (a venv made from a Python under
        # /root is out of its reach); else root without capabilities.
        probe = [sys.executable, "-c", "import sys; print(sys.version)"]
        as_nobody = subprocess.run(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *probe],
            capture_output=True,
            text=True,
            cwd="/",
        )
        if as_nobody.stdout.strip() == sys.version:
            uid = NOBODY
        else:
            drop_caps = True
    root = Path(tempfile.mkdtemp(prefix="clippy-container-"))
    root.chmod(0o755)
    app = root / "app"
    # The image's COPY lines, from the checkout (the client bundle comes from another stage).
    for sources, dest in image.copies:
        assert dest.startswith(image.workdir), f"COPY outside WORKDIR: {dest}"
        target = app / Path(dest).relative_to(image.workdir)
        for source in sources:
            src = ROOT / source
            into = target / src.name if dest.endswith("/") or len(sources) > 1 else target
            if src.is_dir():
                shutil.copytree(src, into, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
            else:
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, into)
    _read_only(app)
    box = Sandbox(root, {image.workdir: app}, uid, drop_caps)
    box.writable(root / "home")  # the image's user has a home (useradd --create-home)
    # The sandbox itself: the service's user cannot write in the app directory.
    denied = subprocess.run(box.argv([sys.executable, "-c", f"open({str(app / 'probe')!r}, 'w')"]), capture_output=True)
    assert denied.returncode != 0 and b"PermissionError" in denied.stderr, "the app copy is writable"
    try:
        yield box
    finally:
        _unlock(root)
        shutil.rmtree(root, ignore_errors=True)


def _mount_volumes(box: Sandbox, targets: list[str]) -> None:
    """Each volume as a writable folder; one inside the app starts with the image's files
    there, as a new named volume does."""
    app = box.mounts["/app"] if "/app" in box.mounts else None
    for target in targets:
        host = box.root / "volumes" / target.strip("/")
        inside = box.host(target)
        if app is not None and inside != target and Path(inside).exists():
            shutil.copytree(inside, host, dirs_exist_ok=True)
        box.mounts[target] = box.writable(host)


def _redirect(value: str, stand_ins: dict[str, str]) -> str:
    """A URL naming a compose service, pointed at the test's stand-in (database path kept)."""
    parts = urlsplit(value) if "://" in value else None
    if parts is None or parts.hostname not in stand_ins:
        return value
    stand_in = stand_ins[parts.hostname]
    return stand_in if stand_in.startswith("local:") else stand_in + parts.path


def _process_env(box: Sandbox, container_env: dict[str, str], stand_ins: dict[str, str]) -> dict[str, str]:
    env = {}
    for key, value in container_env.items():
        env[key] = box.host(_redirect(value, stand_ins))
    models = box.root / "model_configs"
    if not models.exists():
        shutil.copytree(Path(TINY_MODEL["MODEL_CONFIGS"]), models)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(box.root / "home"),
        **env,
        # Model choice only: the tiny random-weight model, offline.
        **{k: v for k, v in TINY_MODEL.items() if k != "MODEL_CONFIGS"},
        "MODEL_CONFIGS": str(models),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        # The image installs the package; here the read-only copy is the package.
        "PYTHONPATH": str(box.mounts["/app"]),
    }


def _host_command(command: list[str], port: int) -> list[str]:
    exe = {"uvicorn": [sys.executable, "-m", "uvicorn"], "python": [sys.executable]}
    out = [*exe.get(command[0], [command[0]]), *command[1:]]
    if "--port" in out:
        out[out.index("--port") + 1] = str(port)
    if "--host" in out:
        out[out.index("--host") + 1] = "127.0.0.1"
    return out


@contextlib.contextmanager
def _started(
    box: Sandbox, command: list[str], env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        proc = subprocess.Popen(box.argv(command), env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


def _serve_and_search(box: Sandbox, command: list[str], env: dict[str, str], log: Path) -> list[dict[str, object]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with _started(box, _host_command(command, port), env, box.mounts["/app"], log) as proc:
        deadline = time.monotonic() + START_S
        status = None
        while status != 200:
            assert proc.poll() is None, f"the API exited with {proc.returncode}:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"/readyz never answered 200 (last {status}):\n{_tail(log)}"
            with contextlib.suppress(httpx.HTTPError):
                status = httpx.get(f"{base}/readyz", timeout=5).status_code
            time.sleep(0.2)
        r = httpx.post(f"{base}/search/hybrid", json={"queryText": "a red circle", "limit": 3}, timeout=60)
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert hits and all(h["imageUrl"] for h in hits), "the sample library answers"
        proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert proc.wait(timeout=90) in (0, -signal.SIGTERM), _tail(log)
    assert "Application shutdown complete" in log.read_text(), _tail(log)
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _assert_uvicorn_logs_json(records: list[dict[str, object]], env: dict[str, str], log: Path) -> None:
    if env.get("LOG_FORMAT") == "json":
        started = [
            r
            for r in records
            if r.get("logger", "").startswith("uvicorn") and "startup complete" in str(r.get("message"))
        ]  # type: ignore[union-attr]
        assert started, f"uvicorn's own lines are not in the app's JSON format:\n{_tail(log)}"


def test_the_image_alone_serves_as_an_unprivileged_user_from_a_read_only_app(image: Stage, sandbox: Sandbox) -> None:
    """`docker run clippy`: the Dockerfile's ENV, its VOLUMEs writable, nothing else."""
    assert image.user not in ("", "root", "0"), "the image runs as root"
    _mount_volumes(sandbox, image.volumes)
    env = _process_env(sandbox, image.env, {})
    log = sandbox.root / "api.log"
    records = _serve_and_search(sandbox, image.cmd, env, log)
    _assert_uvicorn_logs_json(records, env, log)


def test_compose_api_and_worker_start_as_an_unprivileged_user_from_a_read_only_app(
    image: Stage, sandbox: Sandbox, redis_url: str
) -> None:
    """`docker compose up`: the image's ENV, then `.env`, then `environment:`, per service."""
    api = parse_compose(ROOT / "docker-compose.yml", "api", image)
    worker = parse_compose(ROOT / "docker-compose.yml", "worker", image)
    _mount_volumes(sandbox, sorted({*image.volumes, *api.volumes, *worker.volumes}))
    qdrant_storage = sandbox.writable(sandbox.root / "volumes" / "qdrant-service")
    redis_base = redis_url.rsplit("/", 1)[0]
    stand_ins = {"qdrant": f"local:{qdrant_storage}", "redis": redis_base}

    env = _process_env(sandbox, api.env, stand_ins)
    assert env["QDRANT_URL"].startswith("local:"), "compose's API talks to the qdrant service"
    log = sandbox.root / "api.log"
    records = _serve_and_search(sandbox, api.command or image.cmd, env, log)
    _assert_uvicorn_logs_json(records, env, log)

    # The worker, the same way, once the API has let go of the stand-in store (qdrant-client's
    # local mode allows one process; the real qdrant service serves both).
    wenv = _process_env(sandbox, worker.env, stand_ins)
    queue = wenv.get("JOB_QUEUE_NAME", "clippy:jobs")
    assert worker.command, "the compose worker names its command"
    health = redis.Redis.from_url(wenv["REDIS_URL"])
    health.delete(f"{queue}:health-check")
    wlog = sandbox.root / "worker.log"
    with _started(sandbox, _host_command(worker.command, 0), wenv, sandbox.mounts["/app"], wlog) as proc:
        deadline = time.monotonic() + START_S
        # arq writes its health key once on_startup (the services' start) has run.
        while not health.exists(f"{queue}:health-check"):
            assert proc.poll() is None, f"the worker exited with {proc.returncode}:\n{_tail(wlog)}"
            assert time.monotonic() < deadline, f"the worker never started:\n{_tail(wlog)}"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0, _tail(wlog)
    assert "'import'" in wlog.read_text(), f"the worker runs the library's jobs too:\n{_tail(wlog)}"
