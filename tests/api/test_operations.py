"""Operations: Prometheus metrics, request ids in logs, graceful shutdown of a real server."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.logs import make_handler
from tests.support.settings import TINY_MODEL

ROOT = Path(__file__).resolve().parents[2]


def test_metrics_expose_latency_per_route_template_and_search_stages(
    client: TestClient, library: dict[str, Any]
) -> None:
    client.post("/search/hybrid", json={"queryText": "circle", "rerank": True})
    client.get(f"/image/{library['ids'][0]}")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'clippy_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/search/hybrid"}' in text
    assert 'route="/image/{image_id}"' in text, "labelled by template, not by id"
    assert library["ids"][0] not in text
    for stage in ("embed", "qdrant", "rerank"):
        assert f'clippy_search_stage_seconds_count{{stage="{stage}"}}' in text
    assert "clippy_job_queue_depth 0.0" in text
    assert "clippy_collection_points" in text and "clippy_ready 1.0" in text
    assert 'clippy_http_requests_total{method="POST",route="/search/hybrid",status="200"}' in text


def test_unmatched_paths_share_one_label(client: TestClient) -> None:
    client.get("/no/such/path/123")
    text = client.get("/metrics").text
    assert "/no/such/path/123" not in text, "raw paths never become labels"
    assert 'route="unmatched"' in text or 'route="/"' in text  # "/" when the client build is mounted there


@contextlib.contextmanager
def access_log(fmt: str) -> Iterator[io.StringIO]:
    """What the access logger writes while the block runs, in `fmt` (json or text)."""
    stream = io.StringIO()
    handler = make_handler(fmt)
    handler.stream = stream  # type: ignore[attr-defined]
    logger = logging.getLogger("clippy.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def test_a_path_with_a_newline_cannot_forge_an_access_log_line(client: TestClient) -> None:
    with access_log("text") as stream:
        client.get("/nope%0a2026-12-06 06:00:00,000 ERROR clippy: FORGED%0d")
    (line,) = [line for line in stream.getvalue().splitlines() if "/nope" in line]
    assert "FORGED" in line and "/nope\\x0a2026-12-06" in line and "\\x0d" in line
    assert not any(line.startswith("2026-12-06 06:00:00,000 ERROR") for line in stream.getvalue().splitlines())


def test_request_ids_are_echoed_sanitised_and_in_every_log_line(client: TestClient) -> None:
    with access_log("json") as stream:
        r = client.post("/search/hybrid", json={"queryText": "circle"}, headers={"X-Request-ID": "trace-42.a_b"})
        bad = client.get("/info", headers={"X-Request-ID": "evil id;with spaces" + "x" * 200})
    assert r.headers["x-request-id"] == "trace-42.a_b" and r.json()["requestId"] == "trace-42.a_b"
    assert bad.headers["x-request-id"] != "evil" and len(bad.headers["x-request-id"]) == 32
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    search = next(line for line in lines if line["path"] == "/search/hybrid")
    assert search["requestId"] == "trace-42.a_b" and search["status"] == 200
    assert search["route"] == "/search/hybrid" and search["duration_ms"] > 0
    info = next(line for line in lines if line["path"] == "/info")
    assert info["requestId"] == bad.headers["x-request-id"]


def test_error_bodies_carry_the_request_id(client: TestClient) -> None:
    r = client.get("/image/not-a-uuid", headers={"X-Request-ID": "abc123"})
    assert r.status_code == 422 and r.json()["requestId"] == "abc123" and r.headers["x-request-id"] == "abc123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(180)
def test_sigterm_finishes_the_request_in_flight_then_exits_cleanly(tmp_path: Path, image_folder: Path) -> None:
    """uvicorn stops accepting, lets the running request finish, then runs the lifespan stop."""
    port = _free_port()
    env = {
        **os.environ,
        **TINY_MODEL,
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "THUMBS_ROOT": str(tmp_path / "thumbs"),
        "IMAGES_ROOT": str(image_folder),
        "AUTO_INGEST": "false",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "LOG_FORMAT": "json",
    }
    cmd = [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [*cmd, "--timeout-graceful-shutdown", "30"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("the server did not become ready")
        # Start a request and keep it open: headers and half the body now, the rest after SIGTERM.
        body = json.dumps({"queryText": "circle", "limit": 3}).encode()
        sock = socket.create_connection(("127.0.0.1", port))
        head = (
            f"POST /search/hybrid HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-ID: inflight-1\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:5])
        # Signal only once the app is answering it (the /metrics request counts itself too).
        in_flight = re.compile(r"^clippy_http_requests_in_flight (\S+)$", re.M)
        deadline = time.monotonic() + 30
        while float(in_flight.findall(httpx.get(f"http://127.0.0.1:{port}/metrics").text)[0]) < 2:
            assert time.monotonic() < deadline, "the half-sent request never reached the app"
            time.sleep(0.05)
        server.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while True:  # no new connections once the signal is handled
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.HTTPError:
                break
            assert time.monotonic() < deadline, "the server kept accepting connections after SIGTERM"
            time.sleep(0.1)
        assert server.poll() is None, "the server waited for the request in flight"
        sock.sendall(body[5:])
        sock.settimeout(30)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        sock.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
        assert b'"requestId":"inflight-1"' in reply
        out, _ = server.communicate(timeout=60)
        # uvicorn ≥ 0.29 re-raises the signal once it has shut down cleanly.
        assert server.returncode in (0, -signal.SIGTERM), out[-3000:]
        assert "Application shutdown complete" in out
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_an_unexpected_error_is_a_problem_500_with_the_request_id(
    library: dict[str, Any], encoders: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.api.app import create_app
    from app.services import Services

    services = Services.open(library["settings"], encoders=encoders, store=library["store"])

    def broken(*args: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services.searcher, "search", broken)
    with TestClient(create_app(library["settings"], services), raise_server_exceptions=False) as c:
        r = c.post("/search/hybrid", json={"queryText": "x"}, headers={"X-Request-ID": "bug-1"})
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == {
            "type": "https://clippy.dev/problems/internal_error",
            "title": "Internal error",
            "status": 500,
            "detail": "An unexpected error occurred; quote the requestId to report it.",
            "instance": "/search/hybrid",
            "code": "internal_error",
            "requestId": "bug-1",
            "errors": [],
        }
        assert r.headers["x-request-id"] == "bug-1" and "secret" not in r.text
        assert 'route="/search/hybrid",status="500"' in c.get("/metrics").text


@pytest.mark.parametrize(
    ("content_type", "partial"),
    [
        ("application/json", b'{"queryText": "cir'),
        (
            "multipart/form-data; boundary=XyZ",
            b'--XyZ\r\nContent-Disposition: form-data; name="sketch"; filename="s.png"\r\n',
        ),
    ],
)
def test_a_client_that_disconnects_mid_body_is_no_error(
    client: TestClient, caplog: pytest.LogCaptureFixture, content_type: str, partial: bytes
) -> None:
    """Half a body, then `http.disconnect` (the client went away): nothing to log as an error and
    nothing for the 5xx metric; the request is counted as 499 (client closed request)."""
    import anyio

    app = client.app
    messages = [
        {"type": "http.request", "body": partial, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/search/hybrid",
        "raw_path": b"/search/hybrid",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-type", content_type.encode()), (b"content-length", b"4096")],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
        "state": {},
        "app": app,
    }
    before = re.findall(r'route="/search/hybrid",status="5\d\d"} (\S+)', client.get("/metrics").text)
    with caplog.at_level(logging.INFO):
        anyio.run(app, scope, receive, send)  # raises if the disconnect escapes the app
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "Traceback" not in caplog.text
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert all(m["status"] < 500 for m in starts), starts
    text = client.get("/metrics").text
    assert re.findall(r'route="/search/hybrid",status="5\d\d"} (\S+)', text) == before
    assert 'route="/search/hybrid",status="499"' in text
