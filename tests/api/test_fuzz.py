"""Schemathesis over the whole OpenAPI schema, against the ASGI app with the tiny model.

Every operation gets `FUZZ_EXAMPLES` generated requests (default 100, about a minute; CI can raise it), valid
and invalid. The checks: no 5xx, every status code is one the operation declares
(app/api/openapi.py), and every response matches its documented schema and media type
(errors: `application/problem+json`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api.app import create_app
from app.embedding import Encoders
from app.services import Services
from tests.support.settings import tiny_settings

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzz_app(
    library: dict[str, Any],
    encoders: Encoders,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> FastAPI:
    """The app under test. Schemathesis runs its lifespan on its own event loop, on first call."""
    blip: Path = request.getfixturevalue("tiny_blip")
    gen = tmp_path_factory.mktemp("fuzz-gen")
    settings = library["settings"].model_copy(
        update={
            "GENERATED_ROOT": gen,
            "MAX_UPLOAD_BYTES": 2_000_000,
            "MAX_REQUEST_BYTES": 8_000_000,
            "DESCRIBE_MODEL": str(blip),
            "DESCRIBE_MAX_TOKENS": 4,
            # No weights nor credentials here: generation jobs fail (a failed job), never the request.
            # Unset, a request naming a Google provider is a deliberate 503 (not configured here).
            "GOOGLE_CLOUD_PROJECT": "clippy-fuzz",
            "JOB_MAX_TRIES": 1,
            "SDXL_MODEL": str(gen / "no-such-model"),
            "FETCH_TIMEOUT_S": 2.0,
        }
    )
    services = Services.open(settings, encoders=encoders, store=library["store"])
    return create_app(settings, services)


# The schema is known without a model or a store: the routes describe themselves.
_bare = create_app(tiny_settings(Path(tempfile.gettempdir()) / "clippy-fuzz-schema"))
schema = schemathesis.openapi.from_dict(_bare.openapi())


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_5xx_or_breaks_its_schema(case: Any, fuzz_app: FastAPI) -> None:
    case.call_and_validate(app=fuzz_app, checks=CHECKS)
