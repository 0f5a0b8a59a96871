"""Schemathesis over the whole OpenAPI schema, against the ASGI app with the tiny model.

Every operation gets `FUZZ_EXAMPLES` generated requests (default 25; CI can raise it), valid
and invalid. The checks: no 5xx, and every response matches its documented schema and media
type. Undocumented 4xx codes are allowed (413/415/429 bounds are shared by many routes and
described in the README rather than on every operation).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from app.api.app import create_app
from app.embedding import Encoders
from app.services import Services

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzz_app(library: dict[str, Any], encoders: Encoders, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    gen = tmp_path_factory.mktemp("fuzz-gen")
    settings = library["settings"].model_copy(
        update={
            "GENERATED_ROOT": gen,
            "MAX_UPLOAD_BYTES": 2_000_000,
            "MAX_REQUEST_BYTES": 8_000_000,
            # Nothing reachable here: providers fail their jobs (4xx/failed job), never the request.
            "DESCRIBE_MODEL": str(gen / "no-such-model"),
            "SDXL_MODEL": str(gen / "no-such-model"),
            "FETCH_TIMEOUT_S": 2.0,
        }
    )
    services = Services.open(settings, encoders=encoders, store=library["store"])
    app = create_app(settings, services)
    with TestClient(app):  # runs the lifespan: services started, job workers running
        yield app


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_5xx_or_breaks_its_schema(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)
