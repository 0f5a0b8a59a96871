"""The OpenAPI contract (app/api/openapi.py): operation ids a generator can use, every status
an operation answers declared, errors as problem details, no free-form objects on the wire."""

from __future__ import annotations

import ast
import inspect
import re
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app import errors as domain_errors
from app.api import metrics
from app.api.app import ROUTE_MODULES, create_app
from app.api.openapi import operation_id
from app.api.security import OPEN_PATHS, UNLIMITED_PATHS, required_scope
from tests.support.settings import tiny_settings

ROUTERS = (*ROUTE_MODULES, metrics)
METHODS = ("get", "put", "post", "delete", "patch")
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
# The operation ids a generated client calls: renaming one breaks every client, so they are pinned.
OPERATION_IDS = {
    ("get", "/metrics"): "getMetrics",
    ("post", "/search/hybrid"): "searchHybrid",
    ("post", "/search/decompose"): "decomposePrompt",
    ("post", "/search/complementary"): "searchComplementary",
    ("get", "/image/{image_id}"): "getImage",
    ("get", "/thumb/{image_id}"): "getThumbnail",
    ("post", "/atlas"): "createAtlas",
    ("get", "/atlas/{token}/{name}"): "getAtlasPage",
    ("get", "/info"): "getInfo",
    ("get", "/healthz"): "getHealth",
    ("get", "/readyz"): "getReadiness",
    ("post", "/images/generate"): "generateImages",
    ("get", "/generated/{name}"): "getGeneratedFile",
    ("post", "/images/describe"): "describeImage",
    ("get", "/jobs/{job_id}"): "getJob",
    ("delete", "/jobs/{job_id}"): "cancelJob",
    ("get", "/images"): "listImages",
    ("get", "/images/duplicates"): "findDuplicates",
    ("delete", "/images/{image_id}"): "deleteImage",
    ("post", "/images/deletions"): "deleteImages",
    ("post", "/images/{image_id}/restore"): "restoreImage",
    ("get", "/trash"): "listTrash",
    ("get", "/trash/{image_id}/thumb"): "getTrashThumbnail",
    ("post", "/images/duplicates/scans"): "scanDuplicates",
    ("patch", "/images/{image_id}"): "editImageMetadata",
    ("get", "/search"): "searchText",
    ("get", "/libraries"): "listLibraries",
    ("post", "/libraries"): "createLibrary",
    ("get", "/libraries/{name}"): "getLibrary",
    ("delete", "/libraries/{name}"): "deleteLibrary",
    ("post", "/libraries/{library}/imports"): "createImport",
    ("post", "/feedback"): "sendFeedback",
    ("get", "/profile"): "getProfile",
    ("post", "/stories"): "createStory",
    ("get", "/stories"): "searchStories",
    ("post", "/storyboards"): "createStoryboard",
    # The seeds' own routes (app/api/routes/compat.py).
    ("post", "/generate_image"): "generateImageSeed",
    ("post", "/db/initialize"): "initializeGallery",
    ("post", "/images/add"): "addGalleryImage",
    ("post", "/images/add-folder"): "addGalleryFolder",
    ("post", "/images/search"): "searchGallery",
    ("post", "/generate-image"): "generateImageFromStory",
    ("get", "/job/{job_id}"): "getSeedJob",
    ("post", "/generate-story"): "generateStory",
    ("get", "/images/{image_id}/vectors"): "getImageVectors",
}


def _app(**overrides: Any) -> FastAPI:
    return create_app(tiny_settings(Path(tempfile.gettempdir()) / "clippy-contract-schema", **overrides))


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return _app().openapi()


@pytest.fixture(scope="module")
def guarded_schema() -> dict[str, Any]:
    return _app(API_KEYS="k" * 16 + ":admin", RATE_LIMIT="600/minute").openapi()


def test_operation_ids_are_readable_unique_and_pinned(schema: dict[str, Any]) -> None:
    ids = {(method, path): op["operationId"] for method, path, op in operations(schema)}
    assert ids == OPERATION_IDS
    assert len(set(ids.values())) == len(ids)
    for op_id in ids.values():
        # camelCase words, no path or method left over (FastAPI's default: hybrid_search_hybrid_post).
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)+", op_id), op_id


def test_every_operation_declares_422_and_every_error_is_a_problem(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        responses = op["responses"]
        assert responses["422"]["content"] == PROBLEM, (method, path)
        for status, response in responses.items():
            if int(status) >= 400 and path != "/readyz":  # readyz's 503 is a probe's answer, not an error
                assert response["content"] == PROBLEM, (method, path, status)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance", "code", "requestId", "errors"}


def test_operations_with_a_body_declare_413(schema: dict[str, Any]) -> None:
    with_body = [(m, p) for m, p, op in operations(schema) if "requestBody" in op]
    assert len(with_body) >= 8
    for method, path in with_body:
        assert "413" in schema["paths"][path][method]["responses"], (method, path)


def test_guards_declare_401_403_and_429_where_they_apply(
    schema: dict[str, Any], guarded_schema: dict[str, Any]
) -> None:
    for method, path, op in operations(guarded_schema):
        declared = set(op["responses"])
        scope = required_scope(method, path)
        assert ("401" in declared) == (path not in OPEN_PATHS), (method, path)
        if scope == "admin":
            assert "403" in declared, (method, path)
        assert ("429" in declared) == (path not in UNLIMITED_PATHS), (method, path)
    # Without keys nor limits nobody answers 401; 429 only where a queue can be full.
    for method, path, op in operations(schema):
        assert "401" not in op["responses"], (method, path)


def _raised_statuses(endpoint: Any) -> set[int]:
    """Statuses of the domain errors a route function raises itself (`raise XError(...)`)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(endpoint)))
    statuses: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
            cls = getattr(domain_errors, node.exc.func.id, None)
            if isinstance(cls, type) and issubclass(cls, domain_errors.ClippyError):
                statuses.add(cls.status_code)
    return statuses


def test_every_status_a_route_raises_itself_is_declared(schema: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in operations(schema)}
    # (HEAD twins of GET routes stay out of the schema: the GET documents them.)
    routes = [r for module in ROUTERS for r in module.router.routes if isinstance(r, APIRoute) and r.include_in_schema]
    assert {operation_id(r) for r in routes} == set(by_id), "every operation is walked"
    checked = 0
    for route in routes:
        raised = _raised_statuses(route.endpoint)
        declared = set(by_id[operation_id(route)]["responses"])
        assert {str(s) for s in raised} <= declared, (route.name, raised)
        checked += bool(raised)
    assert checked >= 2, "the walk found (almost) no raise at all: it is not looking"


def _free_form(node: Any, where: str) -> Iterator[str]:
    """Schemas that say nothing: `{}` (Any) or an object of anything (`dict[str, Any]`)."""
    if isinstance(node, dict):
        if node == {} or (
            node.get("type") == "object"
            and "properties" not in node
            and node.get("additionalProperties", True) in (True, {})
        ):
            yield where
        for key, value in node.items():
            if key not in ("examples", "example", "default"):
                yield from _free_form(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _free_form(value, f"{where}/{i}")


def test_no_response_schema_is_a_free_form_object(schema: dict[str, Any]) -> None:
    names: set[str] = set()
    for _, _, op in operations(schema):
        for response in op["responses"].values():
            for media in response.get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                if ref:
                    names.add(ref.rsplit("/", 1)[-1])
    components = schema["components"]["schemas"]
    # Follow refs: every schema a response reaches.
    todo = list(names)
    while todo:
        for ref in re.findall(r'"#/components/schemas/(\w+)"', repr(components[todo.pop()]).replace("'", '"')):
            if ref not in names:
                names.add(ref)
                todo.append(ref)
    assert {"InfoResponse", "AtlasResponse", "JobView", "GenerateResult", "ImportResult"} <= names
    problems = [p for name in sorted(names) for p in _free_form(components[name], name)]
    assert problems == []
