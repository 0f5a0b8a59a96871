"""One body parser for JSON and multipart (app/api/bodies.py), its form derived from the model."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.api.bodies import body_openapi, multipart_schema
from app.api.routes import generate, imports, search
from app.generation.models import DescribeRequest, GenerateRequest
from app.search.models import HybridQuery
from tests.support.images import png_bytes

FORMS = [
    (HybridQuery, search.FILES),
    (GenerateRequest, generate.GENERATE_FILES),
    (DescribeRequest, generate.DESCRIBE_FILES),
    (imports.ImportRequest, imports.FILES),
]


@pytest.mark.parametrize(("model", "files"), FORMS)
def test_the_multipart_form_has_every_field_of_the_model_and_the_files(model: Any, files: Any) -> None:
    form = multipart_schema(model, files)["properties"]
    aliases = {f.alias or name for name, f in model.model_fields.items()}
    assert set(form) == aliases | {f.name for f in files}
    for spec in files:
        binary = form[spec.name]["items"] if spec.many else form[spec.name]
        assert binary["format"] == "binary"


def test_objects_and_arrays_go_json_encoded_and_scalars_keep_their_schema() -> None:
    form = multipart_schema(HybridQuery, search.FILES)["properties"]
    assert form["filter"]["type"] == "string" and form["filter"]["contentMediaType"] == "application/json"
    assert form["positiveIds"]["type"] == "string"
    assert form["wImg"]["type"] == "number" and form["wImg"]["minimum"] == 0
    assert form["limit"]["type"] == "integer"
    # A data-URL field of the JSON body is a file in the form.
    assert form["sketch"] == {"type": "string", "format": "binary", "description": "A drawing (PNG/JPEG/WebP)."}


def test_a_field_added_to_the_model_shows_in_the_form_without_touching_the_route() -> None:
    class Grown(HybridQuery):
        brightness: float | None = None

    form = body_openapi(Grown, search.FILES)["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert "brightness" in form["properties"]


def test_json_and_multipart_give_the_same_query(client: TestClient) -> None:
    sketch = Image.new("RGB", (64, 64), "white")
    as_form = client.post(
        "/search/hybrid",
        data={"queryText": "circle", "limit": "2", "filter": '{"tagsAny": ["circle"]}', "wTags": "0"},
        files={"sketch": ("s.png", png_bytes(sketch), "image/png")},
    )
    assert as_form.status_code == 200, as_form.text
    assert len(as_form.json()["hits"]) <= 2


def test_a_malformed_form_is_a_422_problem_not_a_400(client: TestClient) -> None:
    r = client.post(
        "/search/hybrid",
        content=b"--b\r\n[]--b--\r\n",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert "multipart" in r.json()["detail"]


def test_files_go_only_in_the_named_fields_and_one_per_single_field(client: TestClient) -> None:
    png = png_bytes(Image.new("RGB", (8, 8)))
    r = client.post("/search/hybrid", files={"other": ("a.png", png, "image/png")})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "other"
    r = client.post(
        "/search/hybrid", files=[("sketch", ("a.png", png, "image/png")), ("sketch", ("b.png", png, "image/png"))]
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sketch"


def test_a_form_field_of_bad_json_names_the_field(client: TestClient) -> None:
    r = client.post("/search/hybrid", data={"filter": "{nope"})
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "filter", "message": r.json()["detail"]}]


def test_an_unknown_field_names_the_nearest_one_the_route_takes(client: TestClient) -> None:
    r = client.post("/search/hybrid", json={"queryText": "circle", "filters": {"tagsAny": ["circle"]}})
    assert (
        r.status_code == 422
        and r.json()["detail"] == "`filters`: Extra inputs are not permitted (did you mean `filter`?)"
    )
    r = client.post("/search/hybrid", json={"queryText": "circle", "zzz": 1})
    assert r.json()["detail"] == "`zzz`: Extra inputs are not permitted", "no near name, no guess"
