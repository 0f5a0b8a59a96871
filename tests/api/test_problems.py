"""Every error answer is RFC 9457 problem details (app/api/errors.py), whoever raises it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.api.app import create_app
from app.api.errors import problem_body
from app.embedding import Encoders
from app.services import Services

READ_KEY = "read-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
MEMBERS = {"type", "title", "status", "detail", "instance", "code", "requestId", "errors"}


@pytest.fixture(scope="module")
def guarded(library: dict[str, Any], encoders: Encoders) -> Iterator[TestClient]:
    settings = library["settings"].model_copy(
        update={"API_KEYS": f"{READ_KEY}, {ADMIN_KEY}:admin", "RATE_LIMIT": "1000/minute", "MAX_REQUEST_BYTES": 50_000}
    )
    services = Services.open(settings, encoders=encoders, store=library["store"])
    with TestClient(create_app(settings, services)) as c:
        yield c


def assert_problem(r: Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert MEMBERS <= set(body), body
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"https://clippy.dev/problems/{code}"
    assert body["title"] and body["detail"]
    assert body["instance"] == r.request.url.path
    assert body["requestId"] == r.headers["x-request-id"]
    assert isinstance(body["errors"], list)
    return body


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/no/such/route"), 404, "not_found")


def test_a_wrong_method_is_a_405_problem_that_keeps_allow(client: TestClient) -> None:
    r = client.put("/search/hybrid", json={})
    assert_problem(r, 405, "method_not_allowed")
    assert "POST" in r.headers["allow"]


def test_a_domain_error_is_a_problem_with_its_extension_members(client: TestClient) -> None:
    body = assert_problem(client.get(f"/image/{uuid.UUID(int=7)}"), 404, "not_found")
    assert body["title"] == "Not found"


def test_validation_lists_every_field_at_fault(client: TestClient) -> None:
    body = assert_problem(client.post("/search/hybrid", json={"wImg": -1, "limit": 0}), 422, "invalid_input")
    assert {e["field"] for e in body["errors"]} == {"wImg", "limit"}
    assert all(e["message"] for e in body["errors"])
    assert body["detail"].startswith("`wImg`")


def test_a_domain_error_naming_a_field_lists_it_in_errors(client: TestClient) -> None:
    body = assert_problem(client.get("/images", params={"cursor": "not-a-cursor"}), 422, "invalid_input")
    assert body["errors"] == [{"field": "cursor", "message": body["detail"]}]


def test_the_body_bound_is_a_413_problem(guarded: TestClient) -> None:
    r = guarded.post(
        "/search/hybrid", content=b"{" + b" " * 60_000 + b"}", headers={"x-api-key": READ_KEY, "X-Request-ID": "big-1"}
    )
    body = assert_problem(r, 413, "payload_too_large")
    assert body["limit"] == 50_000 and body["requestId"] == "big-1"


def test_security_refusals_are_401_and_403_problems(guarded: TestClient) -> None:
    assert_problem(guarded.get("/info"), 401, "unauthorized")
    assert_problem(guarded.delete("/jobs/abc", headers={"x-api-key": READ_KEY}), 403, "forbidden")


def test_a_rate_limit_is_a_429_problem_with_retry_after(make_limited: TestClient) -> None:
    for _ in range(3):
        r = make_limited.get("/info")
    body = assert_problem(r, 429, "overloaded")
    assert body["retryAfter"] == int(r.headers["retry-after"]) >= 1


@pytest.fixture(scope="module")
def make_limited(library: dict[str, Any], encoders: Encoders) -> Iterator[TestClient]:
    settings = library["settings"].model_copy(update={"RATE_LIMIT": "2/minute"})
    services = Services.open(settings, encoders=encoders, store=library["store"])
    with TestClient(create_app(settings, services)) as c:
        yield c


def test_a_domain_errors_details_become_camel_case_members_that_never_replace_the_standard_ones() -> None:
    body = problem_body(
        404,
        "not_found",
        "no such images",
        instance="/atlas",
        request_id="r1",
        details={"ids": ["a"], "retry_after": 3, "status": 200, "problems": [{"field": "x", "message": "bad"}]},
    )
    assert body["ids"] == ["a"] and body["retryAfter"] == 3
    assert body["status"] == 404 and body["errors"] == [{"field": "x", "message": "bad"}]


def test_a_body_that_is_not_utf8_json_is_a_422_problem_like_malformed_json(client: TestClient) -> None:
    r = client.post("/atlas", content=b"\x80\x81{\x12", headers={"content-type": "application/json"})
    body = assert_problem(r, 422, "invalid_input")
    assert "cannot be read" in body["detail"]
