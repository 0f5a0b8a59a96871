"""POST /images/generate → 202 → GET /jobs/{id} → /generated/{name}, on the tiny SDXL. The job
lifecycle tests (`backend_client`) run on both job backends: in-process and arq on Redis."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.errors import ProviderQuotaError, ProviderUnavailableError
from app.generation.base import Capabilities, GenerationSpec, Hooks, ImageProvider, ProviderOutput
from app.generation.files import GeneratedFiles
from app.generation.job import prompt_tags
from app.generation.sdxl import SdxlProvider
from app.net.fetch import fetch_url
from tests.support.generation import BACKENDS, data_url, make_app, png, poll, resolver

BASE = {"prompt": "pop art still life", "width": 64, "height": 64, "steps": 2, "seed": 7}


def test_a_generation_is_queued_polled_and_stored_with_its_sidecar(
    backend_client: TestClient, settings: Settings
) -> None:
    client = backend_client
    body = {
        **BASE,
        "negativePrompt": "blurry",
        "refs": [
            {"role": "style", "id": "id-red", "weight": 0.7},
            {"role": "subject", "image": data_url((0, 200, 0)), "weight": 0.5},
        ],
    }
    response = client.post("/images/generate", json=body)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert job["status"] == "queued" and job["kind"] == "generate"
    assert set(job) == {"id", "kind", "status", "progress", "result", "error", "createdAt", "updatedAt"}

    done = poll(client, response.headers["location"], "succeeded", "failed")
    assert done["status"] == "succeeded", done
    assert done["progress"] == {"step": 2, "total": 2, "partial": None}
    result = done["result"]
    assert result["provider"] == "sdxl" and result["seed"] == 7
    assert result["model"] == settings.SDXL_MODEL
    (entry,) = result["images"]
    assert entry["url"].startswith("/generated/") and entry["id"] is None

    image = client.get(entry["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (64, 64)
    sidecar = client.get(entry["url"].replace(".png", ".json")).json()
    assert sidecar["prompt"] == "pop art still life" and sidecar["negativePrompt"] == "blurry"
    assert sidecar["seed"] == 7 and sidecar["provider"] == "sdxl"
    assert [(r["role"], r["weight"], r["source"]) for r in sidecar["refs"]] == [
        ("style", 0.7, {"id": "id-red"}),
        ("subject", 0.5, {"image": "inline"}),
    ]
    for ref in sidecar["refs"]:  # the normalised inputs are kept for reproduction
        assert (settings.GENERATED_ROOT / "inputs" / ref["file"]).is_file()


def test_multipart_takes_a_sketch_file_and_ref_uploads(client: TestClient) -> None:
    refs = [{"role": "subject", "upload": 0, "weight": 0.9}, {"role": "style", "upload": 1}]
    response = client.post(
        "/images/generate",
        data={**{k: str(v) for k, v in BASE.items()}, "refs": json.dumps(refs), "sketchWeight": "0.5"},
        files=[
            ("sketch", ("sketch.png", png((255, 255, 255)), "image/png")),
            ("refUploads", ("a.png", png((10, 10, 10)), "image/png")),
            ("refUploads", ("b.png", png((90, 10, 10)), "image/png")),
        ],
    )
    assert response.status_code == 202, response.text
    done = poll(client, response.headers["location"], "succeeded", "failed")
    assert done["status"] == "succeeded", done
    sidecar = client.get(done["result"]["images"][0]["url"].replace(".png", ".json")).json()
    assert sidecar["sketch"] and sidecar["sketchWeight"] == 0.5
    assert [r["source"] for r in sidecar["refs"]] == [{"upload": 0}, {"upload": 1}]


def test_an_idempotency_key_returns_the_same_job_for_the_same_request_only(backend_client: TestClient) -> None:
    client = backend_client
    headers = {"Idempotency-Key": "retry-me"}
    first = client.post("/images/generate", json=BASE, headers=headers)
    # The same request again (spacing differs, the fields do not): the first job.
    second = client.post(
        "/images/generate", content=json.dumps(BASE, indent=2), headers={**headers, "content-type": "application/json"}
    )
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert first.headers["location"] == second.headers["location"]
    # Another body with the same key: refused, not answered with the first job (IETF draft: 422).
    other = client.post("/images/generate", json={**BASE, "seed": 8}, headers=headers)
    assert other.status_code == 422, other.text
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["code"] == "idempotency_key_reused" and first.json()["id"] in other.json()["detail"]
    poll(client, first.headers["location"], "succeeded")


def test_a_job_can_be_cancelled(backend_client: TestClient) -> None:
    client = backend_client
    response = client.post("/images/generate", json={**BASE, "steps": 100, "n": 4, "width": 256, "height": 256})
    location = response.headers["location"]
    cancelled = client.delete(location)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert poll(client, location, "cancelled")["result"] is None
    assert client.delete("/jobs/" + "0" * 32).status_code == 404

    # Cancelled while running: the pipeline stops at its next step and nothing overwrites it.
    response = client.post("/images/generate", json={**BASE, "steps": 100, "n": 4, "width": 256, "height": 256})
    location = response.headers["location"]
    running = poll(client, location, "running", "succeeded", "failed")
    assert running["status"] == "running", running
    assert client.delete(location).json()["status"] == "cancelled"
    time.sleep(1.0)
    final = client.get(location).json()
    assert final["status"] == "cancelled" and final["result"] is None


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"refs": [{"role": "mood", "id": "id-red"}]}, 422, "refs.0.role"),
        ({"refs": [{"role": "style", "id": "id-red", "weight": 1.5}]}, 422, "weight"),
        ({"refs": [{"role": "style", "id": "id-red", "url": "https://x.test/a.png"}]}, 422, "exactly one"),
        ({"refs": [{"role": "style", "id": "id-red"}] * 5}, 422, "GENERATION_MAX_REFS"),
        ({"refs": [{"role": "style", "id": "nope"}]}, 404, "nope"),
        ({"refs": [{"role": "style", "upload": 0}]}, 422, "refUploads"),
        ({"refs": [{"role": "style", "image": "data:image/png;base64,AAAA"}]}, 415, "refs[0].image"),
        ({"refs": [{"role": "style", "url": "ftp://x.test/a.png"}]}, 422, "http"),
        ({"width": 100}, 422, "divisible by 8"),
        ({"width": 512}, 422, "at most 256"),
        ({"n": 9}, 422, "GENERATION_MAX_N"),
        ({"provider": "dalle"}, 422, "provider"),
        ({"addToLibrary": True}, 422, "addToLibrary"),
        ({"prompt": ""}, 422, "prompt"),
        ({"colour": "red"}, 422, "colour"),
    ],
)
def test_invalid_requests_get_4xx_json(client: TestClient, change: dict[str, Any], status: int, needle: str) -> None:
    response = client.post("/images/generate", json={**BASE, **change})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert needle in problem["detail"] + json.dumps(problem["errors"])


def test_a_request_refused_half_way_stores_no_input(client: TestClient, settings: Settings) -> None:
    """Its first ref (inline) resolves, its second (an unknown id) does not: 404, and nothing is
    left under GENERATED_ROOT/inputs; the same request made good stores both."""
    inputs = settings.GENERATED_ROOT / "inputs"
    before = set(inputs.glob("*.png")) if inputs.is_dir() else set()
    inline = {"role": "style", "image": data_url((12, 34, 56))}
    refused = client.post("/images/generate", json={**BASE, "refs": [inline, {"role": "subject", "id": "nope"}]})
    assert refused.status_code == 404, refused.text
    assert (set(inputs.glob("*.png")) if inputs.is_dir() else set()) == before
    accepted = client.post("/images/generate", json={**BASE, "refs": [inline]})
    assert accepted.status_code == 202, accepted.text
    assert len(set(inputs.glob("*.png")) - before) == 1


def test_inputs_no_job_asked_for_within_the_job_ttl_are_swept(tmp_path: Path) -> None:
    files = GeneratedFiles(tmp_path, ref_max_side=64)
    old, fresh = files.store_input(Image.new("RGB", (8, 8), "red")), files.store_input(Image.new("RGB", (8, 8), "blue"))
    reused = files.store_input(Image.new("RGB", (8, 8), "green"))
    long_ago = time.time() - 3600
    for name in (old, reused):
        os.utime(tmp_path / "inputs" / name, (long_ago, long_ago))
    assert files.store_input(Image.new("RGB", (8, 8), "green")) == reused  # asked for again: touched
    assert files.sweep_inputs(older_than_s=600) == 1
    assert sorted(p.name for p in (tmp_path / "inputs").iterdir()) == sorted([fresh, reused])


def test_a_refused_ref_url_names_its_ref(client: TestClient) -> None:
    refs = [{"role": "style", "image": data_url((1, 2, 3))}, {"role": "subject", "url": "ftp://x.test/a.png"}]
    problem = client.post("/images/generate", json={**BASE, "refs": refs}).json()
    assert problem["status"] == 422 and problem["detail"].startswith("`refs[1].url`: ")
    assert [e["field"] for e in problem["errors"]] == ["refs.1.url"]


def test_generated_files_are_served_only_from_the_root(client: TestClient) -> None:
    assert client.get("/generated/..%2Fsecret.png").status_code == 404
    assert client.get("/generated/missing.png").status_code == 404
    assert client.get("/generated/x.txt").status_code == 404


def test_add_to_library_embeds_each_result_through_the_injected_callable(
    settings: Settings, sdxl: SdxlProvider, library: dict[str, Path]
) -> None:
    added: list[tuple[Path, list[str], str]] = []

    def add(path: Path, tags: list[str], source: str, library: str | None) -> str:
        added.append((path, tags, source))
        return f"lib-{len(added)}"

    app, _, _ = make_app(settings, {"sdxl": sdxl}, resolve_library_image=resolver(library), add_to_library=add)
    with TestClient(app) as client:
        response = client.post("/images/generate", json={**BASE, "n": 2, "addToLibrary": True})
        done = poll(client, response.headers["location"], "succeeded", "failed")
    assert [image["id"] for image in done["result"]["images"]] == ["lib-1", "lib-2"]
    path, tags, source = added[0]
    assert path.parent == settings.GENERATED_ROOT and path.is_file()
    assert tags[:2] == ["generated", "sdxl"] and "pop" in tags and source == "generated:sdxl"


def test_a_retried_add_to_library_job_keeps_what_an_earlier_attempt_added(
    settings: Settings, sdxl: SdxlProvider
) -> None:
    added: list[str] = []

    def add(path: Path, tags: list[str], source: str, library: str | None = None) -> str:
        added.append(path.name)
        if len(added) == 2:  # the second image of the first attempt: a transient failure
            raise ProviderUnavailableError("the store is busy")
        return f"lib-{len(added)}"

    retrying = settings.model_copy(update={"JOB_MAX_TRIES": 2, "JOB_RETRY_BACKOFF_S": 0.01})
    app, _, _ = make_app(retrying, {"sdxl": sdxl}, add_to_library=add)
    with TestClient(app) as client:
        response = client.post("/images/generate", json={**BASE, "n": 2, "addToLibrary": True})
        done = poll(client, response.headers["location"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        first = client.get(done["result"]["images"][0]["url"].replace(".png", ".json")).json()
    job_id = done["id"]
    # Image 0 was added once (attempt 1); attempt 2 only added image 1.
    assert added == [f"{job_id}-0.png", f"{job_id}-1.png", f"{job_id}-1.png"]
    assert [image["id"] for image in done["result"]["images"]] == ["lib-1", "lib-3"]
    assert first["libraryId"] == "lib-1"


class QuotaProvider(ImageProvider):
    name = "sdxl"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_refs=4, max_n=4, sketch=True, negative_prompt=True, ref_weights=True)

    @property
    def model_name(self) -> str:
        return "quota"

    def _load(self) -> None:
        pass

    def _generate(self, spec: GenerationSpec, hooks: Hooks) -> ProviderOutput:
        raise ProviderQuotaError("Quota exceeded for imagen-3.0: try again later.")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failing_provider_fails_the_job_with_its_reason(
    settings: Settings, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    app, _, _ = make_app(settings, {"sdxl": QuotaProvider()}, redis=url)
    with TestClient(app) as client:
        response = client.post("/images/generate", json=BASE)
        failed = poll(client, response.headers["location"], "failed")
    # `detail` (the technical text) is null: the provider's own message is all there is.
    assert failed["error"] == {
        "code": "provider_quota",
        "message": "Quota exceeded for imagen-3.0: try again later.",
        "detail": None,
    }


def test_url_refs_are_fetched_with_bounds(settings: Settings, sdxl: SdxlProvider) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big.png":
            return httpx.Response(200, content=b"x" * 2048)
        if request.url.path == "/moved.png":
            return httpx.Response(302, headers={"location": "/ref.png"})
        return httpx.Response(200, content=png((1, 2, 3)), headers={"content-type": "image/png"})

    app, generation, _ = make_app(settings.model_copy(update={"MAX_UPLOAD_BYTES": 1024 * 1024}), {"sdxl": sdxl})
    generation._url_transport = httpx.MockTransport(handler)
    with TestClient(app) as client:
        ok = client.post(
            "/images/generate", json={**BASE, "refs": [{"role": "style", "url": "https://img.test/moved.png"}]}
        )
        assert ok.status_code == 202, ok.text
    import anyio

    with pytest.raises(Exception, match="larger than 1024"):
        anyio.run(
            lambda: fetch_url(
                "https://img.test/big.png", max_bytes=1024, timeout_s=5, transport=httpx.MockTransport(handler)
            )
        )


@pytest.mark.parametrize("url", ["http://127.0.0.1/a.png", "http://[::1]/a.png", "http://10.0.0.1/a.png"])
def test_private_addresses_are_refused_unless_allowed(url: str) -> None:
    import anyio

    from app.errors import ForbiddenError

    with pytest.raises(ForbiddenError, match="FETCH_ALLOW_PRIVATE"):
        anyio.run(lambda: fetch_url(url, max_bytes=1024, timeout_s=2))


def test_prompt_tags_make_generated_images_findable_by_their_words() -> None:
    assert prompt_tags("A Pop-art still life with the lemons", "sdxl") == [
        "generated",
        "sdxl",
        "pop-art",
        "still",
        "life",
        "lemons",
    ]
