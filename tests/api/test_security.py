"""API keys and scopes, rate limits, CORS, files under their roots, and the SSRF-safe fetcher."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from app.api import serving
from app.api.app import create_app
from app.api.security import ApiKeys, RateLimiter, required_scope
from app.embedding import Encoders
from app.errors import ForbiddenError, InvalidInputError, NotFoundError, OverloadedError, PayloadTooLargeError
from app.net.fetch import fetch_url, is_public
from app.services import Services
from app.storage.files import safe_join

READ_KEY = "read-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"


@pytest.fixture(scope="module")
def make_client(library: dict[str, Any], encoders: Encoders) -> Iterator[Any]:
    """Builds a TestClient over the shared library with some settings changed."""
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = library["settings"].model_copy(update=overrides)
        services = Services.open(settings, encoders=encoders, store=library["store"])
        client = TestClient(create_app(settings, services))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def keyed(make_client: Any) -> TestClient:
    client: TestClient = make_client(API_KEYS=f"{READ_KEY}, {ADMIN_KEY}:admin")
    return client


# --- API keys and scopes ---------------------------------------------------------------------


def test_without_keys_configured_no_key_is_needed(client: TestClient) -> None:
    assert client.post("/search/hybrid", json={"queryText": "circle"}).status_code == 200
    assert client.get("/info").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/search/hybrid"),
        ("GET", "/info"),
        ("GET", f"/image/{uuid.UUID(int=1)}"),
        ("GET", f"/thumb/{uuid.UUID(int=1)}"),
        ("GET", "/metrics"),
        ("GET", "/jobs/abc"),
        ("DELETE", "/jobs/abc"),
        ("POST", "/images/generate"),
        ("GET", "/generated/x.png"),
    ],
)
def test_every_api_route_needs_a_key_when_keys_are_configured(keyed: TestClient, method: str, path: str) -> None:
    r = keyed.request(method, path, json={"queryText": "circle"} if method == "POST" else None)
    assert r.status_code == 401, r.text
    body = r.json()
    assert body["code"] == "unauthorized" and "x-api-key" in body["detail"]
    assert body["requestId"] == r.headers["x-request-id"]
    wrong = keyed.request(method, path, headers={"x-api-key": "not-a-key-at-all-000000"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "Unknown API key."


def test_health_and_readiness_stay_open_with_keys(keyed: TestClient) -> None:
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/readyz").status_code == 200


def test_a_read_key_searches_and_reads_but_cannot_change_anything(keyed: TestClient, library: dict[str, Any]) -> None:
    h = {"x-api-key": READ_KEY}
    assert keyed.post("/search/hybrid", json={"queryText": "circle"}, headers=h).status_code == 200
    assert keyed.get(f"/image/{library['ids'][0]}", headers=h).status_code == 200
    assert keyed.get("/metrics", headers=h).status_code == 200
    assert keyed.get("/jobs/nope", headers=h).status_code == 404
    denied = keyed.delete("/jobs/nope", headers=h)
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    assert keyed.post("/images/generate", json={"prompt": "a cat"}, headers=h).status_code == 403


def test_an_admin_key_may_change_things_and_bearer_works_too(keyed: TestClient) -> None:
    assert keyed.delete("/jobs/nope", headers={"x-api-key": ADMIN_KEY}).status_code == 404
    assert keyed.delete("/jobs/nope", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).status_code == 404
    assert keyed.get("/info", headers={"Authorization": f"Bearer {READ_KEY}"}).status_code == 200


def test_openapi_declares_the_key_header_when_keys_are_configured(keyed: TestClient, client: TestClient) -> None:
    schema = keyed.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "x-api-key"
    assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_key_settings_are_validated() -> None:
    keys = ApiKeys.parse(f" {READ_KEY} ,{ADMIN_KEY}:admin,,")
    assert keys.scope_of(READ_KEY) == "read" and keys.scope_of(ADMIN_KEY) == "admin"
    assert keys.scope_of("nope") is None and not ApiKeys.parse(None).enabled
    with pytest.raises(ValueError, match="scope 'root'"):
        ApiKeys.parse(f"{READ_KEY}:root")
    with pytest.raises(ValueError, match="too short"):
        ApiKeys.parse("abc")


def test_scopes_follow_the_method_with_queries_as_reads() -> None:
    assert required_scope("GET", "/healthz") is None
    assert required_scope("GET", "/image/x") == "read"
    assert required_scope("POST", "/search/hybrid") == "read"
    assert required_scope("POST", "/images/describe") == "read"
    assert required_scope("POST", "/atlas") == "read"
    assert required_scope("POST", "/images/generate") == "admin"
    assert required_scope("DELETE", "/jobs/x") == "admin"
    assert required_scope("POST", "/import/url") == "admin", "new write routes are admin by default"


# --- rate limits ---------------------------------------------------------------------------


@pytest.fixture
def still_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time stands still mid-second and mid-minute: the sliding windows are weighted by where
    the clock is in them, so hits that straddle a boundary would count less than they are."""
    import types

    import limits.aio.storage.memory

    import app.api.security

    now = time.time() // 60 * 60 + 30.5
    clock = types.SimpleNamespace(time=lambda: now)
    monkeypatch.setattr(limits.aio.storage.memory, "time", clock)
    monkeypatch.setattr(app.api.security, "time", clock)


@pytest.mark.usefixtures("still_clock")
def test_over_the_rate_limit_is_429_with_retry_after_per_key(make_client: Any) -> None:
    c = make_client(API_KEYS=f"{READ_KEY},{ADMIN_KEY}:admin", RATE_LIMIT="3/minute")
    h = {"x-api-key": READ_KEY}
    for _ in range(3):
        assert c.get("/info", headers=h).status_code == 200
    r = c.get("/info", headers=h)
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "overloaded" and "RATE_LIMIT" in r.json()["detail"]
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert r.json()["retryAfter"] == int(r.headers["retry-after"])
    # Another key has its own budget; health checks are never counted.
    assert c.get("/info", headers={"x-api-key": ADMIN_KEY}).status_code == 200
    assert all(c.get("/healthz").status_code == 200 for _ in range(5))


@pytest.mark.usefixtures("still_clock")
def test_without_a_key_the_client_address_is_limited_guessed_keys_included(make_client: Any) -> None:
    c = make_client(RATE_LIMIT="2/minute")
    assert c.get("/info").status_code == 200
    assert c.get("/info", headers={"x-api-key": "guess-000000000000000"}).status_code == 200
    assert c.get("/info").status_code == 429


@contextlib.contextmanager
def live_server(app: Any, **options: Any) -> Iterator[str]:
    """`app` under a real uvicorn on loopback, started with `options` as a launcher would."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _rotating_xff_statuses(base: str, n: int = 80) -> list[int]:
    with httpx.Client(base_url=base, timeout=30) as http:
        return [
            http.get(
                "/info", headers={"x-api-key": "guess-000000000000000", "X-Forwarded-For": f"203.0.113.{i % 250}"}
            ).status_code
            for i in range(n)
        ]


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_forwarded_for_from_loopback_does_not_dodge_the_rate_limit(
    make_client: Any, monkeypatch: pytest.MonkeyPatch, trusted: str
) -> None:
    """80 guessed keys from loopback, each claiming another X-Forwarded-For: by default the
    address is the connection's and the limit holds; only a configured proxy is believed."""
    monkeypatch.setenv(serving.ENV, "unchanged")  # uvicorn_options exports it; monkeypatch restores
    settings_app = make_client(
        API_KEYS=f"{READ_KEY},{ADMIN_KEY}:admin", RATE_LIMIT="20/minute", FORWARDED_ALLOW_IPS=trusted
    )
    app = settings_app.app
    with live_server(app, **serving.uvicorn_options(app.state.services.settings)) as base:
        statuses = _rotating_xff_statuses(base)
    if trusted:  # the proxy in front is believed: every forwarded address has its own budget
        assert 429 not in statuses and set(statuses) == {401}
    else:
        assert statuses[:20] == [401] * 20 and statuses[20:] == [429] * 60, statuses


def test_the_image_default_believes_no_forwarded_header(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Dockerfile's `ENV FORWARDED_ALLOW_IPS=""` under a plain `uvicorn main:app`."""
    monkeypatch.setenv(serving.ENV, "")
    app = make_client(API_KEYS=f"{READ_KEY},{ADMIN_KEY}:admin", RATE_LIMIT="20/minute").app
    with live_server(app) as base:
        assert 429 in _rotating_xff_statuses(base, 40)


@pytest.mark.usefixtures("still_clock")
def test_rate_limit_notation_errors_name_the_setting() -> None:
    with pytest.raises(ValueError, match="RATE_LIMIT='lots'"):
        RateLimiter("lots")

    async def burst() -> None:
        limiter = RateLimiter("1/second;100/minute")
        await limiter.hit("a")
        await limiter.hit("b")
        with pytest.raises(OverloadedError) as e:
            await limiter.hit("a")
        assert e.value.details["retry_after"] >= 1

    anyio.run(burst)


# --- CORS ----------------------------------------------------------------------------------


def test_cors_allows_only_configured_origins(make_client: Any, client: TestClient) -> None:
    c = make_client(CORS_ORIGINS="https://draw.example, http://localhost:5173")
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key,content-type"}
    ok = c.options("/search/hybrid", headers={"Origin": "https://draw.example", **pre})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://draw.example"
    bad = c.options("/search/hybrid", headers={"Origin": "https://evil.example", **pre})
    assert "access-control-allow-origin" not in bad.headers
    assert "access-control-allow-origin" not in client.get("/info", headers={"Origin": "https://x.example"}).headers


# --- files under their roots ---------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "root"
    (base / "sub").mkdir(parents=True)
    (base / "sub" / "ok.png").write_bytes(b"png")
    (tmp_path / "secret.txt").write_text("secret")
    return base


@pytest.mark.parametrize(
    "relative",
    [
        "../secret.txt",  # parent segment
        "sub/../../secret.txt",
        "/etc/passwd",  # absolute
        "sub%2F..%2F..%2Fsecret.txt",  # encoded separators that survived decoding
        "sub%5c..%5c..%5csecret.txt",
        "..\\secret.txt",  # backslash
        "sub/ok.png\x00.txt",  # NUL byte
        "",
    ],
)
def test_safe_join_refuses_paths_that_leave_the_root(root: Path, relative: str) -> None:
    with pytest.raises(ForbiddenError):
        safe_join(root, relative)


def test_safe_join_refuses_symlinks_out_but_follows_links_within(root: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.txt", root / "out.png")
    os.symlink(tmp_path, root / "outdir")
    os.symlink(root / "sub" / "ok.png", root / "in.png")
    with pytest.raises(ForbiddenError, match="outside"):
        safe_join(root, "out.png")
    with pytest.raises(ForbiddenError, match="outside"):
        safe_join(root, "outdir/secret.txt")
    assert safe_join(root, "in.png") == (root / "sub" / "ok.png").resolve()
    assert safe_join(root, "sub/ok.png").read_bytes() == b"png"
    with pytest.raises(NotFoundError):
        safe_join(root, "sub/missing.png")


@pytest.mark.parametrize(
    "name",
    [
        "..%2Fsecret.json",
        "%2E%2E%2Fsecret.json",
        "..%2F..%2Fsecret.json",
        "a%00.png",
        "sub%2Fx.png",
        "%5C..%5Csecret.json",
        "x.txt",
    ],
)
def test_generated_files_stay_in_their_root(
    make_client: Any, tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    gen = tmp_path_factory.mktemp("gen")
    (gen.parent / "secret.json").write_text("{}")
    c = make_client(GENERATED_ROOT=gen / "generated")
    assert c.get(f"/generated/{name}").status_code in (404, 422)


def test_generated_symlinks_pointing_outside_are_refused(make_client: Any, tmp_path: Path) -> None:
    gen = tmp_path / "generated"
    gen.mkdir()
    (tmp_path / "secret.json").write_text('{"secret": 1}')
    os.symlink(tmp_path / "secret.json", gen / "leak.json")
    (gen / "fine.json").write_text("{}")
    c = make_client(GENERATED_ROOT=gen)
    assert c.get("/generated/leak.json").status_code == 404
    assert c.get("/generated/fine.json").status_code == 200


# --- remote URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
    ],
)
def test_non_public_addresses_are_not_public(address: str) -> None:
    import ipaddress

    assert not is_public(ipaddress.ip_address(address))


def test_public_addresses_are_public() -> None:
    import ipaddress

    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert is_public(ipaddress.ip_address("2606:2800:220:1:248:1893:25c8:1946"))


def _resolver(table: dict[str, list[str]]) -> Any:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"no such host {host}")
        return table[host]

    return resolve


def _fetch(url: str, handler: Any, table: dict[str, list[str]], **kw: Any) -> bytes:
    async def go() -> bytes:
        return await fetch_url(
            url,
            max_bytes=kw.pop("max_bytes", 1024),
            timeout_s=kw.pop("timeout_s", 5),
            transport=httpx.MockTransport(handler),
            resolve=_resolver(table),
            **kw,
        )

    return anyio.run(go)


def test_a_redirect_to_a_private_address_is_refused() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers["host"] == "img.test":
            return httpx.Response(302, headers={"location": "http://internal.test/admin"})
        return httpx.Response(200, content=b"secret")

    table = {"img.test": ["93.184.216.34"], "internal.test": ["10.0.0.5"]}
    with pytest.raises(ForbiddenError, match="internal.test.*10.0.0.5"):
        _fetch("http://img.test/a.png", handler, table)
    assert len(seen) == 1, "the private hop was never requested"
    # The request went to the checked address, naming the host in the Host header.
    assert seen[0].url.host == "93.184.216.34" and seen[0].headers["host"] == "img.test"


def test_a_host_with_any_private_address_is_refused_unless_allowed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"ok")

    table = {"mixed.test": ["93.184.216.34", "127.0.0.1"], "meta.test": ["169.254.169.254"]}
    with pytest.raises(ForbiddenError, match="FETCH_ALLOW_PRIVATE"):
        _fetch("http://mixed.test/", handler, table)
    with pytest.raises(ForbiddenError):
        _fetch("http://meta.test/latest/meta-data/", handler, table)
    assert _fetch("http://meta.test/x", handler, table, allow_private=True) == b"ok"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://img.test/a.png",
        "gopher://img.test/",
        "http://img.test:99999/",
        "http://[::1/",
        "http:///x",
    ],
)
def test_only_well_formed_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(InvalidInputError):
        _fetch(url, lambda r: httpx.Response(200), {"img.test": ["93.184.216.34"]})


def test_unresolvable_hosts_too_many_redirects_and_big_bodies_are_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/loop":
            return httpx.Response(302, headers={"location": "/loop"})
        if request.url.path == "/declared":
            return httpx.Response(200, headers={"content-length": "999999"}, content=b"x")
        if request.url.path == "/bad-length":
            return httpx.Response(200, headers={"content-length": "lots"}, content=b"x" * 10)
        return httpx.Response(200, content=b"x" * 4096)

    table = {"img.test": ["93.184.216.34"]}
    with pytest.raises(InvalidInputError, match="does not resolve"):
        _fetch("http://nowhere.test/", handler, table)
    with pytest.raises(InvalidInputError, match="redirects more than"):
        _fetch("http://img.test/loop", handler, table)
    with pytest.raises(PayloadTooLargeError):
        _fetch("http://img.test/declared", handler, table)
    with pytest.raises(PayloadTooLargeError):
        _fetch("http://img.test/streamed", handler, table)
    assert _fetch("http://img.test/bad-length", handler, table) == b"x" * 10


class _Slow(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(10)
            return  # the fetch under test gave up long ago: nobody reads an answer
        body = self.headers["host"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def local_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


def test_a_real_fetch_connects_to_the_checked_address_and_is_time_bounded(local_server: int) -> None:
    async def get(url: str, allow: bool, timeout_s: float = 5) -> bytes:
        return await fetch_url(
            url,
            max_bytes=1024,
            timeout_s=timeout_s,
            allow_private=allow,
            resolve=_resolver({"pictures.test": ["127.0.0.1"]}),
        )

    with pytest.raises(ForbiddenError):
        anyio.run(get, f"http://pictures.test:{local_server}/a.png", False)
    # Allowed: the socket goes to 127.0.0.1 while the server sees the original host name.
    assert (
        anyio.run(get, f"http://pictures.test:{local_server}/a.png", True) == f"pictures.test:{local_server}".encode()
    )
    started = time.monotonic()
    with pytest.raises(InvalidInputError, match="FETCH_TIMEOUT_S"):
        anyio.run(get, f"http://pictures.test:{local_server}/slow", True, 0.5)
    assert time.monotonic() - started < 5, "FETCH_TIMEOUT_S cut the 10 s answer short"
