"""Cross-modal RAG end to end: POST /search/decompose and /search/complementary on a fixture
library where no image has every tag of the prompt. The tiny model has random weights, so
the sparse `tags` view (lexical, IDF) carries the signal."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from app.api.app import create_app
from app.api.errors import install_error_handlers
from app.api.routes import generate as generate_routes
from app.api.routes import jobs as jobs_routes
from app.config import Settings
from app.embedding import Encoders
from app.errors import InvalidInputError
from app.generation.base import Capabilities, GenerationSpec, Hooks, ImageProvider, ProviderOutput
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest
from app.search.complementary import ComplementarySearcher
from app.search.complementary_models import ComplementaryQuery, SubQueryModel
from app.search.pareto import coverage_at_k
from app.services import Services, build_generation_and_jobs
from app.storage.base import VectorStore
from app.storage.edge import EdgeStore
from app.storage.schema import CollectionSchema
from tests.support.images import shape_image
from tests.support.serving import serve_generation
from tests.support.settings import tiny_settings

PROMPT = "a fox and an owl in a forest"
TAGS_ONLY = {"wImg": 0, "wTxt": 0, "wTags": 1}


def _rows() -> list[dict[str, Any]]:
    """Eight fox+owl pictures (the pair outscores a forest in a plain top-k), four forests, fillers."""
    tags = [["fox", "owl", "animal"]] * 8 + [["forest", "tree"]] * 4 + [["fox"]] + [["owl", "bird"]]
    tags += [["circle", "round"], ["square", "box"], ["triangle"], ["text", "line"]] * 3
    return [{"path": f"img_{i:02d}.png", "tags": t, "source": "fixture"} for i, t in enumerate(tags)]


def _ingest(root: Path, encoders: Encoders, store: VectorStore) -> tuple[list[str], list[dict[str, Any]]]:
    rows = _rows()
    root.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(rows):
        shape_image(i % 5, i).save(root / row["path"])
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    report = Ingestor(encoders, store, IngestOptions(images_root=root)).run(read_manifest(root / "manifest.jsonl"))
    assert report.ingested == len(rows)
    return report.ids, rows


@pytest.fixture(scope="module")
def rag(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("rag")
    settings = tiny_settings(tmp, IMAGES_ROOT=tmp / "images")
    store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
    ids, rows = _ingest(tmp / "images", encoders, store)
    services = Services.open(settings, encoders=encoders, store=store)
    tags_of = {i: set(r["tags"]) for i, r in zip(ids, rows, strict=True)}
    with TestClient(create_app(settings, services)) as client:
        yield {"client": client, "tags_of": tags_of, "settings": settings, "store": store}
    store.close()


def _post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_no_fixture_image_has_every_tag_of_the_prompt(rag: dict[str, Any]) -> None:
    assert not any({"fox", "owl", "forest"} <= tags for tags in rag["tags_of"].values())


def test_decompose_returns_editable_sub_queries(rag: dict[str, Any]) -> None:
    out = _post(rag["client"], "/search/decompose", {"prompt": PROMPT})
    assert out["subQueries"] == [
        {"id": "q1", "text": "fox", "kind": "subject", "weight": 1.0},
        {"id": "q2", "text": "owl", "kind": "subject", "weight": 1.0},
        {"id": "q3", "text": "forest", "kind": "setting", "weight": 1.0},
    ]
    assert out["parser"] in ("parser", "rules") and out["requestId"] and out["prompt"] == PROMPT
    paths = rag["client"].get("/openapi.json").json()["paths"]
    for path in ("/search/decompose", "/search/complementary"):
        assert "application/json" in paths[path]["post"]["requestBody"]["content"]


def test_complementary_covers_every_tag_where_plain_top_k_does_not(rag: dict[str, Any]) -> None:
    client, tags_of = rag["client"], rag["tags_of"]
    parts = [{i for i, t in tags_of.items() if tag in t} for tag in ("fox", "owl", "forest")]
    k = 3

    top = _post(client, "/search/hybrid", {"queryText": PROMPT, "limit": k, "wEdge": 0, **TAGS_ONLY})
    top_ids = [h["id"] for h in top["hits"]]
    assert coverage_at_k(parts, top_ids, k) < 1.0  # the fox+owl pictures crowd out the forest

    out = _post(client, "/search/complementary", {"prompt": PROMPT, "limit": k, **TAGS_ONLY})
    ref_ids = [r["id"] for r in out["refs"]]
    assert 1 <= len(ref_ids) <= k
    assert coverage_at_k(parts, ref_ids, k) == 1.0
    assert out["covered"] == 3 and out["coverage"] == pytest.approx(1.0)
    assert out["weights"] == {"tags": 1.0} and out["method"] in ("exact", "greedy")
    assert out["frontier"] >= len(ref_ids) and out["candidates"] >= out["frontier"]

    # The coverage matrix and the attribution agree with the refs and with the tags.
    matrix = out["matrix"]
    assert matrix["rows"] == ref_ids and matrix["columns"] == ["q1", "q2", "q3"]
    for ref, row in zip(out["refs"], matrix["values"], strict=True):
        assert row == [ref["coverage"][q] for q in matrix["columns"]]
        assert ref["covers"] == [q for q in matrix["columns"] if ref["coverage"][q] >= matrix["threshold"]]
        assert ref["imageUrl"] == f"/image/{ref['id']}" and ref["role"] in ("style", "subject")
        assert 0 < ref["weight"] <= 1 and ref["gain"] > 0
    by_id = {r["id"]: r for r in out["refs"]}
    for part, tag in zip(out["attribution"], ("fox", "owl", "forest"), strict=True):
        assert part["covered"] and tag in tags_of[part["refId"]]
        assert part["subQueryId"] in by_id[part["refId"]]["attributed"]
    assert [r["rank"] for r in out["refs"]] == list(range(1, len(ref_ids) + 1))


def test_complementary_with_every_view_still_returns_a_consistent_set(rag: dict[str, Any]) -> None:
    out = _post(rag["client"], "/search/complementary", {"prompt": PROMPT, "limit": 4})
    assert set(out["weights"]) == {"image", "text", "tags"}
    assert 1 <= len(out["refs"]) <= 4
    assert set(out["timings"]) == {"decodeMs", "encodeMs", "prepareMs", "searchMs", "rerankMs", "totalMs"}


def test_edited_sub_queries_replace_the_prompt(rag: dict[str, Any]) -> None:
    subs = [{"text": "forest", "kind": "setting"}, {"id": "q7", "text": "owl"}, {"text": "fox", "weight": 2}]
    out = _post(rag["client"], "/search/complementary", {"subQueries": subs, "limit": 2, **TAGS_ONLY})
    assert [(q["id"], q["text"], q["kind"], q["weight"]) for q in out["subQueries"]] == [
        ("q8", "forest", "setting", 1.0),
        ("q7", "owl", "subject", 1.0),
        ("q9", "fox", "subject", 2.0),
    ]
    assert out["prompt"] is None and out["matrix"]["columns"] == ["q8", "q7", "q9"]
    assert len(out["refs"]) <= 2


@pytest.mark.parametrize(
    "path, body, needle",
    [
        ("/search/decompose", {"prompt": ""}, "prompt"),
        ("/search/complementary", {}, "prompt"),
        ("/search/complementary", {"prompt": "the and of"}, "no words"),
        ("/search/complementary", {"subQueries": []}, "empty"),
        ("/search/complementary", {"subQueries": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}, "unique"),
        ("/search/complementary", {"subQueries": [{"text": "fox", "weight": 0}]}, "weight"),
        ("/search/complementary", {"subQueries": [{"text": "fox"}] * 9}, "RAG_MAX_SUBQUERIES"),
        ("/search/complementary", {"prompt": "fox", "wImg": 0, "wTxt": 0, "wTags": 0}, "wImg"),
        ("/search/complementary", {"prompt": "fox", "limit": 0}, "limit"),
        ("/search/complementary", {"prompt": "fox", "subQueries": [{"text": " "}]}, "blank"),
    ],
)
def test_invalid_requests_get_422_with_the_reason(
    rag: dict[str, Any], path: str, body: dict[str, Any], needle: str
) -> None:
    r = rag["client"].post(path, json=body)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]


def test_both_store_backends_choose_the_same_set(
    store_factory: Any, encoders: Encoders, tmp_path: Path, rag: dict[str, Any]
) -> None:
    store: VectorStore = store_factory()
    store.ensure(CollectionSchema(encoders.clip.dim, encoders.text.dim, encoders.space()), writing=True)
    _ingest(tmp_path / "images", encoders, store)
    settings: Settings = rag["settings"]
    out = ComplementarySearcher(encoders, store, settings).search(
        ComplementaryQuery(
            sub_queries=[SubQueryModel(text=t) for t in ("fox", "owl", "forest")], limit=3, w_img=0, w_txt=0
        )
    )
    tags = [set(r.tags) for r in out.refs]
    assert out.covered == 3 and all(any(t in s for s in tags) for t in ("fox", "owl", "forest"))


class _RecordingProvider(ImageProvider):
    """Generates a blank image and records the references it was given."""

    name = "sdxl"

    def __init__(self) -> None:
        super().__init__()
        self.specs: list[GenerationSpec] = []

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_refs=4, max_n=1, sketch=False, negative_prompt=True, ref_weights=True)

    @property
    def model_name(self) -> str:
        return "recording"

    def _load(self) -> None:
        pass

    def _generate(self, spec: GenerationSpec, hooks: Hooks) -> ProviderOutput:
        self.specs.append(spec)
        return ProviderOutput(images=[Image.new("RGB", (spec.width, spec.height))], model="recording", seeds=[1])


def test_generate_accepts_the_complementary_answer_with_grounding(rag: dict[str, Any], tmp_path: Path) -> None:
    found = _post(rag["client"], "/search/complementary", {"prompt": PROMPT, "limit": 3, **TAGS_ONLY})
    root: Path = rag["settings"].IMAGES_ROOT
    paths = {r["id"]: root / r["path"] for r in found["refs"]}
    settings = Settings(_env_file=None, GENERATED_ROOT=tmp_path / "generated", JOB_MAX_TRIES=1)  # type: ignore[call-arg]
    provider = _RecordingProvider()
    generation, jobs = build_generation_and_jobs(
        settings, resolve_library_image=lambda i: paths[i], providers={"sdxl": provider}
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await generation.start()
        await jobs.start()
        yield
        await jobs.stop()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(generate_routes.router)
    app.include_router(jobs_routes.router)
    serve_generation(app, generation, jobs, settings)
    body = {"prompt": PROMPT, "width": 64, "height": 64, "grounding": True, "complementary": found}
    with TestClient(app) as client:
        refused = client.post("/images/generate", json={**body, "complementary": None})
        assert refused.status_code == 422 and "complementary" in refused.text
        r = client.post("/images/generate", json=body)
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 30
        while (job := client.get(r.headers["location"]).json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
    assert job["status"] == "succeeded", job
    (spec,) = provider.specs
    expected = [(ref["role"], ref["weight"]) for ref in found["refs"]]
    assert [(ref.role, ref.weight) for ref in spec.refs] == expected
    attribution = job["result"]["attribution"]
    assert [a["subQueryId"] for a in attribution] == ["q1", "q2", "q3"]
    for a, part in zip(attribution, found["attribution"], strict=True):
        assert a["refId"] == part["refId"] and a["score"] == part["score"]
        assert found["refs"][a["refIndex"]]["id"] == a["refId"]


def test_grounding_keeps_the_first_refs_that_fit_and_attributes_over_them() -> None:
    from app.generation.grounding import apply_grounding
    from app.generation.models import GenerateRequest

    answer = {
        "subQueries": [{"id": "q1", "text": "watercolor", "kind": "style"}, {"id": "q2", "text": "fox"}],
        "refs": [
            {"id": "a", "coverage": {"q1": 0.9, "q2": 0.1}, "thumbUrl": "/thumb/a"},  # extra keys are ignored
            {"id": "b", "coverage": {"q1": 0.0, "q2": 0.8}},
        ],
        "matrix": {"rows": ["a", "b"]},
    }
    own = {"role": "subject", "url": "https://example.org/x.png", "weight": 0.5}
    request = GenerateRequest.model_validate({"prompt": "p", "refs": [own], "grounding": True, "complementary": answer})
    grounded, attribution = apply_grounding(request, max_refs=2)
    assert [(r.role, r.id, r.weight) for r in grounded.refs[1:]] == [("style", "a", pytest.approx(0.3 + 0.6 * 0.9))]
    assert attribution is not None
    assert [(a["subQueryId"], a["refId"], a["refIndex"]) for a in attribution] == [("q1", "a", 1), ("q2", "a", 1)]
    full, attribution = apply_grounding(request)
    assert [r.id for r in full.refs[1:]] == ["a", "b"] and attribution is not None
    assert [(a["refId"], a["role"]) for a in attribution] == [("a", "style"), ("b", "subject")]
    plain = request.model_copy(update={"grounding": False})
    assert apply_grounding(plain) == (plain, None)


def test_exact_selection_over_too_many_subsets_is_refused(rag: dict[str, Any], encoders: Encoders) -> None:
    settings = rag["settings"].model_copy(update={"RAG_EXACT_MAX_SUBSETS": 0})
    searcher = ComplementarySearcher(encoders, rag["store"], settings)
    query = ComplementaryQuery(prompt=PROMPT, limit=3, w_img=0, w_txt=0, method="exact")
    with pytest.raises(InvalidInputError, match="RAG_EXACT_MAX_SUBSETS"):
        searcher.search(query)
    assert searcher.search(query.model_copy(update={"method": "auto"})).method == "greedy"
