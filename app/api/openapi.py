"""The OpenAPI contract: readable operation ids and every status code each operation answers.

* Operation ids are the route's name in camelCase (`search_hybrid` → `searchHybrid`): the
  name given in the route decorator (`name=`), else the route function's name. A generated
  client calls `searchHybrid(...)`, not `hybrid_search_hybrid_post(...)`; a test pins them.
* Error answers are problem details (app/api/errors.py), declared under
  `application/problem+json` with the `Problem` schema. A route declares the codes its own
  work can answer (`responses=problems(404, 409)`); `install_openapi` adds the ones that come
  from outside the route, to every operation they apply to:
  - 422 (request validation) everywhere, in place of FastAPI's `HTTPValidationError`;
  - 413 where there is a request body (the body bound, app/api/middleware.py);
  - with API_KEYS, 401 on every guarded route and 403 on those that need an admin key;
    with RATE_LIMIT, 429 on every rate-limited route (app/api/security.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema

from app.api.errors import PROBLEM_MEDIA_TYPE, FieldProblem, Problem
from app.api.security import OPEN_PATHS, UNLIMITED_PATHS, required_scope
from app.config import Settings
from app.generation.models import GenerateResult
from app.library.models import DuplicateScanResult, ImportResult
from app.stories.models import StoryboardProgress, StoryboardResult, StoryResult

PROBLEM_REF = "#/components/schemas/Problem"
# A job's `result` by its `kind`: the job queue stores the handler's JSON as is (app/jobs).
JOB_RESULTS: dict[str, type[BaseModel]] = {
    "generate": GenerateResult,
    "import": ImportResult,
    "story": StoryResult,
    "storyboard": StoryboardResult,
    "duplicates": DuplicateScanResult,
}
# A running job's `progress.partial` by its `kind` (kinds that hand work over as it finishes).
JOB_PARTIALS: dict[str, type[BaseModel]] = {
    "storyboard": StoryboardProgress,
}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# What each error status means here; the body says which case it is.
DESCRIPTIONS: dict[int, str] = {
    401: "No API key, or an unknown one (API_KEYS).",
    403: "Not allowed: a read-only key on a change, or a path, URL or library this caller may not touch.",
    404: "Unknown, or not readable with this key.",
    409: "In conflict with the current state (an existing name, a collection built with another "
    "embedding space, a part not available in this process).",
    413: "A body, upload, image or list larger than its limit (the member `limit` says which).",
    415: "A content type or file format that is not accepted.",
    422: "Invalid input: `errors` lists the fields at fault (or `idempotency_key_reused`: the "
    "Idempotency-Key was sent before with another request).",
    429: "Too many requests (RATE_LIMIT) or a full queue; `Retry-After` says when to try again.",
    502: "The generation provider failed.",
    503: "Not available now: model weights, the store, a provider, or not ready yet.",
}


# Files answered with ETag: a client that holds this version gets 304 and no body.
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified (`If-None-Match` matched)."}}


def operation_id(route: APIRoute) -> str:
    """`generate_unique_id_function`: the route's name in camelCase (uniqueness is tested)."""
    return to_camel(route.name)


def problem_response(status: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS.get(status) or HTTPStatus(status).phrase,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route decorator: the error statuses the route's own work can answer."""
    return {status: problem_response(status) for status in statuses}


def common_statuses(method: str, path: str, has_body: bool, settings: Settings) -> set[int]:
    """The error statuses an operation can answer whatever its route does."""
    statuses = {422}
    if has_body:
        statuses.add(413)
    scope = required_scope(method, path)
    if settings.API_KEYS and path not in OPEN_PATHS:
        statuses.add(401)
        if scope == "admin":
            statuses.add(403)
    if settings.RATE_LIMIT and path not in UNLIMITED_PATHS:
        statuses.add(429)
    return statuses


def _operations(schema: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Complete FastAPI's schema (once, cached on the app): the problem schema and the common
    error statuses of every operation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        models: list[type[BaseModel]] = [Problem, FieldProblem, *JOB_RESULTS.values(), *JOB_PARTIALS.values()]
        _, defs = models_json_schema(
            [(m, "serialization") for m in models], by_alias=True, ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in defs.get("$defs", {}).items():
            components[name] = definition
        job = components.get("JobView")
        if job is not None:
            results = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in JOB_RESULTS.values()]
            job["properties"]["result"] = {
                "anyOf": [*results, {"type": "null"}],
                "description": "Set when the job succeeded: by `kind`, "
                + ", ".join(f"`{kind}` → {m.__name__}" for kind, m in JOB_RESULTS.items())
                + ".",
            }
        progress = components.get("JobProgress")
        if progress is not None:
            partials = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in JOB_PARTIALS.values()]
            progress["properties"]["partial"] = {
                "anyOf": [*partials, {"type": "null"}],
                "description": "What a running job has made so far: by `kind`, "
                + ", ".join(f"`{kind}` → {m.__name__}" for kind, m in JOB_PARTIALS.items())
                + "; other kinds leave it out.",
            }
        for path, method, operation in _operations(schema):
            responses = operation.setdefault("responses", {})
            for status in sorted(common_statuses(method, path, "requestBody" in operation, settings)):
                # 422 replaces FastAPI's own HTTPValidationError: our handler answers a problem.
                if status == 422 or str(status) not in responses:
                    responses[str(status)] = problem_response(status)
        # FastAPI's validation error schemas: no operation refers to them any more.
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
