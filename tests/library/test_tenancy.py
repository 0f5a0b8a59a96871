"""Multi-user libraries: keys bound to owners, private and public libraries, and every
endpoint scoped so one tenant never sees or changes another's private images.

Two owners (alice, bob) each hold a private library; bob also owns a public one; the
default library holds the demo images. An operator key (no owner) sees everything, and
an app without API_KEYS behaves as the single-user demo always did.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.api.security import ApiKeys
from app.embedding import Encoders
from app.errors import NotFoundError
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item
from app.library.access import OPERATOR, LibraryGrant, LibraryScope, Principal
from app.library.browse import list_images
from app.library.registry import LibraryRegistry, registry_path
from app.search.hybrid import HybridSearcher, QueryInputs
from app.search.models import HybridQuery
from app.services import Services
from app.storage.edge import EdgeStore
from app.storage.schema import CollectionSchema
from app.storage.types import PointRecord
from tests.support.blend import BlendProvider
from tests.support.images import SHAPE_TAGS, png_bytes, shape_image
from tests.support.settings import tiny_settings

ALICE = "alice-key-0123456789abcdef"
ALICE_READ = "alice-read-0123456789abcdef"
BOB = "bob-key-0123456789abcdef"
OPERATOR_KEY = "operator-key-0123456789abcdef"
KEYS = f"{ALICE}:admin:alice, {ALICE_READ}:read:alice, {BOB}:admin:bob, {OPERATOR_KEY}:admin"

A, B, OP = {"x-api-key": ALICE}, {"x-api-key": BOB}, {"x-api-key": OPERATOR_KEY}
LIBRARIES = {"default": None, "alice-private": "alice", "bob-private": "bob", "bob-public": "bob"}


def _ingest(encoders: Encoders, store: EdgeStore, root: Path, library: str, seeds: range) -> list[str]:
    items = []
    for seed in seeds:
        kind = seed % 3
        rel = Path(library) / f"img_{seed:03d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shape_image(kind, seed).save(root / rel)
        items.append(Item(root / rel, [*SHAPE_TAGS[kind], library]))
    report = Ingestor(encoders, store, IngestOptions(library=library, images_root=root)).run(items)
    assert report.ingested == len(items), report.summary()
    return report.ids


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("tenancy")
    root = tmp / "images"
    base = tiny_settings(tmp, IMAGES_ROOT=root, GENERATED_ROOT=tmp / "generated")
    store = EdgeStore(base.QDRANT_PATH, base.COLLECTION)
    opened: list[TestClient] = []

    def client(**overrides: Any) -> TestClient:
        settings = base.model_copy(update=overrides)
        services = Services.open(settings, encoders=encoders, store=store, providers={"sdxl": BlendProvider()})
        c = TestClient(create_app(settings, services))
        c.__enter__()
        opened.append(c)
        return c

    keyed = client(API_KEYS=KEYS)
    made = [
        keyed.post("/libraries", json={"name": "alice-private"}, headers=A),
        keyed.post("/libraries", json={"name": "bob-private", "visibility": "private"}, headers=B),
        # An operator may create a library for a tenant.
        keyed.post("/libraries", json={"name": "bob-public", "visibility": "public", "owner": "bob"}, headers=OP),
    ]
    assert [r.status_code for r in made] == [201, 201, 201], [r.text for r in made]

    ids: dict[str, list[str]] = {}
    for n, library in enumerate(LIBRARIES):
        ids[library] = _ingest(encoders, store, root, library, range(10 * n, 10 * n + 6))
    # The same picture in both private libraries: an exact duplicate across tenants.
    twin = root / "bob-private" / "twin.png"
    twin.write_bytes((root / "alice-private" / "img_010.png").read_bytes())
    ids["bob-twin"] = (
        Ingestor(encoders, store, IngestOptions(library="bob-private", images_root=root))
        .run([Item(twin, ["twin"])])
        .ids
    )
    owner_of = {pid: lib for lib, pids in ids.items() for pid in pids}
    owner_of.update({pid: "bob-private" for pid in ids["bob-twin"]})
    yield {
        "keyed": keyed,
        "open": client(),
        "ids": ids,
        "library_of": owner_of,
        "root": root,
        "settings": base,
        "store": store,
    }
    for c in opened:
        c.__exit__(None, None, None)
    store.close()


def readable_by(owner: str | None) -> set[str]:
    if owner is None:
        return set(LIBRARIES)
    return {lib for lib, who in LIBRARIES.items() if who in (owner, None) or lib == "bob-public"}


def _wait(client: TestClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(location, headers=headers).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def _libraries_of(world: dict[str, Any], ids: list[str]) -> set[str]:
    return {world["library_of"][i] for i in ids}


# --- keys and principals -----------------------------------------------------------------------


def test_keys_may_name_an_owner_and_keys_without_one_stay_operator_keys() -> None:
    keys = ApiKeys.parse(f"{OPERATOR_KEY}, {ALICE}:admin, {BOB}:admin:bob, {ALICE_READ}::alice")
    assert keys.principal_of(OPERATOR_KEY) == Principal("read", None)
    assert keys.principal_of(ALICE) == Principal("admin", None)
    assert keys.principal_of(BOB) == Principal("admin", "bob") and keys.scope_of(BOB) == "admin"
    assert keys.principal_of(ALICE_READ) == Principal("read", "alice")
    with pytest.raises(ValueError, match="owner 'a/b'"):
        ApiKeys.parse(f"{BOB}:admin:a/b")
    with pytest.raises(ValueError, match="scope 'owner'"):
        ApiKeys.parse(f"{BOB}:owner:bob")


def test_idempotency_keys_are_namespaced_per_owner_and_bare_for_operators() -> None:
    assert OPERATOR.idempotency_key("k") == "k" and OPERATOR.idempotency_key(None) is None
    assert Principal("admin", "alice").idempotency_key("k") != Principal("admin", "bob").idempotency_key("k")


def test_a_scope_reads_own_public_and_default_and_writes_only_its_own() -> None:
    grants = [
        LibraryGrant("mine", "alice", "private"),
        LibraryGrant("theirs", "bob", "private"),
        LibraryGrant("open", "bob", "public"),
    ]
    scope = LibraryScope.build(Principal("admin", "alice"), grants, "default")
    assert scope.readable == {"mine", "open", "default"} and scope.writable == {"mine"}
    reader = LibraryScope.build(Principal("read", "alice"), grants, "default")
    assert reader.writable == frozenset(), "a read key writes nothing, not even its own library"
    everything = LibraryScope.build(Principal("read", None), grants, "default")
    assert everything.read_filter() is None and everything.can_read("theirs")


# --- library records ---------------------------------------------------------------------------


def test_libraries_are_created_once_owned_by_the_caller_and_kept_on_disk(world: dict[str, Any]) -> None:
    c: TestClient = world["keyed"]
    again = c.post("/libraries", json={"name": "alice-private"}, headers=B)
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert c.post("/libraries", json={"name": "default"}, headers=OP).status_code == 409
    assert c.post("/libraries", json={"name": "x", "owner": "bob"}, headers=A).status_code == 403
    assert c.post("/libraries", json={"name": "a/b"}, headers=A).status_code == 422
    assert c.post("/libraries", json={"name": "ro"}, headers={"x-api-key": ALICE_READ}).status_code == 403
    assert c.post("/libraries", json={"name": "anon"}).status_code == 401

    mine = c.get("/libraries/alice-private", headers=A).json()
    assert (mine["owner"], mine["visibility"], mine["writable"], mine["images"]) == ("alice", "private", True, 6)
    registry = LibraryRegistry(registry_path(world["settings"]), "default")  # a fresh reader of the same file
    assert {r.name: (r.owner, r.visibility) for r in registry.all()} == {
        "default": (None, "public"),
        "alice-private": ("alice", "private"),
        "bob-private": ("bob", "private"),
        "bob-public": ("bob", "public"),
    }


def test_a_tenant_lists_its_own_and_public_libraries_and_never_sees_anothers_private_one(
    world: dict[str, Any],
) -> None:
    c: TestClient = world["keyed"]
    listed = {lib["name"]: lib for lib in c.get("/libraries", headers=A).json()["libraries"]}
    assert set(listed) == {"default", "alice-private", "bob-public"}
    assert listed["bob-public"]["writable"] is False and listed["default"]["writable"] is False
    assert listed["default"]["default"] is True
    hidden = c.get("/libraries/bob-private", headers=A)
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert c.get("/libraries/bob-private", headers=B).status_code == 200
    everything = {lib["name"] for lib in c.get("/libraries", headers=OP).json()["libraries"]}
    assert set(LIBRARIES) <= everything


# --- reads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "owner"), [(ALICE, "alice"), (BOB, "bob"), (OPERATOR_KEY, None)])
def test_the_listing_holds_exactly_the_libraries_the_key_may_read(world: dict[str, Any], key: str, owner: str) -> None:
    c: TestClient = world["keyed"]
    body = c.get("/images", params={"limit": 500}, headers={"x-api-key": key}).json()
    assert {i["library"] for i in body["items"]} == readable_by(owner)
    assert body["total"] == len(body["items"])
    asked = c.get("/images", params={"library": "bob-private"}, headers={"x-api-key": key})
    if owner == "alice":  # one she cannot read is one that is not there, as GET /libraries/{name} says
        assert asked.status_code == 404 and asked.json()["detail"] == "no library 'bob-private'."
    else:
        assert asked.json()["total"] == 7
    # /info counts what the key may read, not every tenant's images.
    assert c.get("/info", headers={"x-api-key": key}).json()["points"] == body["total"]


@pytest.mark.parametrize(("key", "owner"), [(ALICE, "alice"), (BOB, "bob"), (OPERATOR_KEY, None)])
def test_every_search_endpoint_returns_only_readable_images(world: dict[str, Any], key: str, owner: str) -> None:
    c: TestClient = world["keyed"]
    h = {"x-api-key": key}
    hybrid = c.post("/search/hybrid", json={"queryText": "circle square", "limit": 200}, headers=h)
    assert hybrid.status_code == 200, hybrid.text
    found = _libraries_of(world, [hit["id"] for hit in hybrid.json()["hits"]])
    assert found == readable_by(owner), "every readable library is searched, nothing else"

    text = c.get("/search", params={"query": "circle", "limit": 200}, headers=h).json()
    assert _libraries_of(world, [hit["id"] for hit in text["hits"]]) == readable_by(owner)

    narrowed = c.post(
        "/search/hybrid", json={"queryText": "circle", "filter": {"match": {"library": "bob-private"}}}, headers=h
    ).json()
    assert bool(narrowed["hits"]) is (owner != "alice"), "naming a private library of another tenant finds nothing"

    rag = c.post("/search/complementary", json={"prompt": "a circle and a square", "limit": 8}, headers=h)
    assert rag.status_code == 200, rag.text
    assert _libraries_of(world, [ref["id"] for ref in rag.json()["refs"]]) <= readable_by(owner)


def test_example_ids_outside_the_scope_are_unknown(world: dict[str, Any]) -> None:
    c: TestClient = world["keyed"]
    theirs, mine = world["ids"]["bob-private"][0], world["ids"]["alice-private"][0]
    for field in ("positiveIds", "negativeIds"):
        body = {"queryText": "circle", field: [theirs]}
        r = c.post("/search/hybrid", json=body, headers=A)
        assert r.status_code == 404 and r.json()["ids"] == [theirs]
        assert c.post("/search/hybrid", json=body, headers=B).status_code == 200
    ok = c.post("/search/hybrid", json={"positiveIds": [mine, world["ids"]["bob-public"][0]]}, headers=A)
    assert ok.status_code == 200 and _libraries_of(world, [h["id"] for h in ok.json()["hits"]]) <= readable_by("alice")


def test_files_of_another_tenants_private_image_are_404_but_public_ones_are_served(world: dict[str, Any]) -> None:
    c: TestClient = world["keyed"]
    theirs = world["ids"]["bob-private"][0]
    for path in (f"/image/{theirs}", f"/thumb/{theirs}"):
        hidden = c.get(path, headers=A)
        assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
        assert c.get(path, headers=B).status_code == 200
        assert c.get(path, headers=OP).status_code == 200
    for library in ("bob-public", "default", "alice-private"):
        served = c.get(f"/thumb/{world['ids'][library][0]}", headers=A)
        assert served.status_code == 200
        assert served.headers["cache-control"].startswith("private"), "no shared cache keeps a keyed image"


def test_an_atlas_holds_only_readable_images_and_its_pages_only_for_its_owner(world: dict[str, Any]) -> None:
    c: TestClient = world["keyed"]
    mine, theirs = world["ids"]["alice-private"][:2], world["ids"]["bob-private"][:2]
    r = c.post("/atlas", json={"ids": [*theirs, *mine], "cell": 32}, headers=A)
    assert r.status_code == 200, r.text
    atlas = r.json()
    assert list(atlas["sprites"]) == mine and atlas["missing"] == theirs, "told apart from unknown ids: not at all"
    url = atlas["pages"][0]["url"]
    assert c.get(url, headers=A).status_code == 200
    assert c.get(url, headers=OP).status_code == 200
    assert c.get(url, headers=B).status_code == 404, "another tenant never reads an atlas made for alice"
    assert c.get(url).status_code == 401


def test_the_duplicate_report_never_names_another_tenants_private_items(world: dict[str, Any]) -> None:
    c: TestClient = world["keyed"]
    twin = world["ids"]["bob-twin"][0]

    def exact_members(headers: dict[str, str]) -> set[str]:
        r = c.get("/images/duplicates", params={"threshold": 0.9999}, headers=headers)
        assert r.status_code == 200, r.text
        return {m["id"] for g in r.json()["exact"] for m in g["members"]}

    assert twin in exact_members(OP), "the operator sees the same picture in both private libraries"
    assert twin not in exact_members(A) and not exact_members(A)
    report = c.get("/images/duplicates", headers=A).json()
    assert report["scanned"] == sum(len(world["ids"][lib]) for lib in readable_by("alice"))


# --- writes --------------------------------------------------------------------------------------


def test_deleting_an_image_needs_its_library_to_be_the_callers(world: dict[str, Any], encoders: Encoders) -> None:
    c: TestClient = world["keyed"]
    store = world["store"]
    theirs, public, demo = (world["ids"][lib][1] for lib in ("bob-private", "bob-public", "default"))
    hidden = c.delete(f"/images/{theirs}", headers=A)
    assert hidden.status_code == 404, "another tenant's private image does not exist for this key"
    assert c.delete(f"/images/{public}", headers=A).status_code == 403
    assert c.delete(f"/images/{demo}", headers=A).status_code == 403
    assert c.delete(f"/images/{theirs}", headers={"x-api-key": ALICE_READ}).status_code == 403
    assert store.existing_ids([theirs, public, demo]) == {theirs, public, demo}, "nothing was deleted"

    extra = _ingest(encoders, store, world["root"], "alice-private", range(90, 92))
    assert c.delete(f"/images/{extra[0]}", headers=A).status_code == 200
    assert c.delete(f"/images/{extra[1]}", headers=OP).status_code == 200, "operators delete anywhere"
    assert not store.existing_ids(extra)


def test_imports_go_only_into_a_library_the_key_owns(world: dict[str, Any]) -> None:
    c: TestClient = world["keyed"]
    files = [("files", ("new.png", png_bytes(shape_image(1, 501)), "image/png"))]
    assert c.post("/libraries/bob-private/imports", files=files, headers=A).status_code == 404
    assert c.post("/libraries/bob-public/imports", files=files, headers=A).status_code == 403
    assert c.post("/libraries/default/imports", files=files, headers=A).status_code == 403
    assert c.post("/libraries/nowhere/imports", files=files, headers=A).status_code == 404
    r = c.post("/libraries/alice-private/imports", files=files, headers={**A, "Idempotency-Key": "same"})
    assert r.status_code == 202, r.text
    job = _wait(c, r.headers["location"], A)
    assert job["status"] == "succeeded" and job["result"]["library"] == "alice-private"
    new_id = job["result"]["ids"][0]
    world["library_of"][new_id] = "alice-private"
    assert c.get(f"/image/{new_id}", headers=B).status_code == 404
    assert c.get(f"/image/{new_id}", headers=A).status_code == 200

    # One tenant's Idempotency-Key never returns another's job.
    again = c.post("/libraries/alice-private/imports", files=files, headers={**A, "Idempotency-Key": "same"})
    assert again.json()["id"] == job["id"]
    bobs = c.post("/libraries/bob-private/imports", files=files, headers={**B, "Idempotency-Key": "same"})
    assert bobs.status_code == 202 and bobs.json()["id"] != job["id"]
    bob_job = _wait(c, bobs.headers["location"], B)
    assert bob_job["result"]["library"] == "bob-private"
    world["library_of"][bob_job["result"]["ids"][0]] = "bob-private"

    # The key is bound to its request: other files, or another route, are refused (422), never
    # answered with the import job (a generation must not be silently never queued).
    other = [("files", ("other.png", png_bytes(shape_image(2, 502)), "image/png"))]
    reused = c.post("/libraries/alice-private/imports", files=other, headers={**A, "Idempotency-Key": "same"})
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    generate = {"prompt": "a cat", "width": 64, "height": 64, "steps": 1}
    reused = c.post("/images/generate", json=generate, headers={**A, "Idempotency-Key": "same"})
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused", reused.text
    assert job["id"] in reused.json()["detail"]


def test_generation_refs_by_id_and_add_to_library_follow_the_scope(world: dict[str, Any]) -> None:
    c: TestClient = world["keyed"]
    base = {"prompt": "a red pop poster", "width": 64, "height": 64}
    theirs, public = world["ids"]["bob-private"][2], world["ids"]["bob-public"][2]
    hidden = c.post("/images/generate", json={**base, "refs": [{"role": "style", "id": theirs}]}, headers=A)
    assert hidden.status_code == 404 and hidden.json()["errors"][0]["field"] == "refs.0.id"
    described = c.post("/images/describe", json={"id": theirs}, headers=A)
    assert described.status_code == 404

    refused = c.post("/images/generate", json={**base, "addToLibrary": True}, headers=A)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "library"
    into_bobs = {**base, "addToLibrary": True, "library": "bob-public"}
    assert c.post("/images/generate", json=into_bobs, headers=A).status_code == 403

    ok = c.post(
        "/images/generate",
        json={**base, "refs": [{"role": "style", "id": public}], "addToLibrary": True, "library": "alice-private"},
        headers=A,
    )
    assert ok.status_code == 202, ok.text
    done = _wait(c, ok.headers["location"], A)
    assert done["status"] == "succeeded", done.get("error")
    added = done["result"]["images"][0]["id"]
    world["library_of"][added] = "alice-private"
    payload = world["store"].retrieve([added])[0].payload
    assert payload["library"] == "alice-private"
    assert payload.get("owned") is True, "the library owns its copy: deleting the image removes the file"
    assert c.get(f"/image/{added}", headers=B).status_code == 404


def test_a_job_and_its_generated_files_are_seen_only_by_the_owner_that_queued_them(world: dict[str, Any]) -> None:
    c: TestClient = world["keyed"]
    queued = c.post("/images/generate", json={"prompt": "a blue owl", "width": 64, "height": 64}, headers=A)
    assert queued.status_code == 202, queued.text
    location = queued.headers["location"]
    done = _wait(c, location, A)
    assert done["status"] == "succeeded", done.get("error")
    url = done["result"]["images"][0]["url"]
    sidecar = url.rsplit(".", 1)[0] + ".json"
    for path in (location, url, sidecar):
        assert c.get(path, headers=A).status_code == 200, path
        assert c.get(path, headers={"x-api-key": ALICE_READ}).status_code == 200, "the owner's read key too"
        assert c.get(path, headers=OP).status_code == 200, "operators see every job"
        hidden = c.get(path, headers=B)
        assert hidden.status_code == 404 and "alice" not in hidden.text, path
    assert c.delete(location, headers=B).status_code == 404, "another tenant cannot cancel it"
    assert c.get(location, headers=A).json()["status"] == "succeeded"


def test_deleting_a_library_removes_its_points_thumbnails_and_owned_files(world: dict[str, Any]) -> None:
    c: TestClient = world["keyed"]
    assert c.post("/libraries", json={"name": "alice-scratch"}, headers=A).status_code == 201
    files = [("files", (f"s{k}.png", png_bytes(shape_image(k, 700 + k)), "image/png")) for k in range(3)]
    job = _wait(c, c.post("/libraries/alice-scratch/imports", files=files, headers=A).headers["location"], A)
    ids = job["result"]["ids"]
    assert len(ids) == 3
    assert all(c.get(f"/thumb/{i}", headers=A).status_code == 200 for i in ids)
    services = c.app.state.services  # type: ignore[attr-defined]
    thumbs = [services.thumbs.path_for(i) for i in ids]
    originals = [services.libraries.image_path(i) for i in ids]
    assert all(p.is_file() for p in thumbs + originals)

    assert c.delete("/libraries/alice-scratch", headers=B).status_code == 404
    assert c.delete("/libraries/bob-public", headers=A).status_code == 403
    assert c.delete("/libraries/default", headers=OP).status_code == 409
    r = c.delete("/libraries/alice-scratch", headers=A)
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "alice-scratch", "imagesRemoved": 3, "thumbnailsRemoved": 3, "filesRemoved": 3}
    assert not world["store"].existing_ids(ids)
    assert not any(p.exists() for p in thumbs + originals)
    assert not (world["root"] / "imports" / "alice-scratch").exists()
    assert c.get("/libraries/alice-scratch", headers=A).status_code == 404
    assert c.get("/images", params={"library": "alice-scratch"}, headers=OP).status_code == 404, "gone with its record"


# --- one user, no keys ---------------------------------------------------------------------------


def test_without_api_keys_everything_is_allowed_as_before(world: dict[str, Any]) -> None:
    c: TestClient = world["open"]
    listing = c.get("/images", params={"limit": 500}).json()
    assert {i["library"] for i in listing["items"]} >= set(LIBRARIES)
    theirs = world["ids"]["bob-private"][3]
    served = c.get(f"/image/{theirs}")
    assert served.status_code == 200 and served.headers["cache-control"].startswith("public")
    assert c.post("/search/hybrid", json={"positiveIds": [theirs]}).status_code == 200
    assert "default" in {lib["name"] for lib in c.get("/libraries").json()["libraries"]}
    files = [("files", ("solo.png", png_bytes(shape_image(2, 801)), "image/png"))]
    job = _wait(c, c.post("/libraries/default/imports", files=files).headers["location"], {})
    assert job["status"] == "succeeded" and job["result"]["library"] == "default"
    world["library_of"][job["result"]["ids"][0]] = "default"
    gen = c.post("/images/generate", json={"prompt": "a cat", "width": 64, "height": 64, "addToLibrary": True})
    done = _wait(c, gen.headers["location"], {})
    assert done["status"] == "succeeded", done.get("error")
    added = done["result"]["images"][0]["id"]
    world["library_of"][added] = "default"
    assert world["store"].retrieve([added])[0].payload["library"] == "default"


# --- both store backends ---------------------------------------------------------------------------


def test_the_scope_filter_means_the_same_on_both_backends(
    store_factory: Any, encoders: Encoders, tmp_path: Path
) -> None:
    store = store_factory()
    dim = encoders.clip.dim
    store.create(CollectionSchema(dim, encoders.text.dim, encoders.space()))
    rng = np.random.default_rng(1)
    libs = ["mine", "theirs", "default"]
    points = []
    for i in range(9):
        vec = rng.normal(size=dim)
        vec = (vec / np.linalg.norm(vec)).tolist()
        points.append(PointRecord(str(uuid.UUID(int=i + 1)), {"image": vec, "edge": vec}, {"library": libs[i % 3]}))
    store.upsert(points)
    grants = [LibraryGrant("mine", "alice", "private"), LibraryGrant("theirs", "bob", "private")]
    scope = LibraryScope.build(Principal("admin", "alice"), grants, "default")

    page = list_images(store, limit=50, scope=scope)
    assert {i.library for i in page.items} == {"mine", "default"} and page.total == 6
    searcher = HybridSearcher(encoders, store, tiny_settings(tmp_path))
    q = HybridQuery(positive_ids=[points[0].id], w_img=1, w_edge=0, w_txt=0, w_tags=0, limit=50)
    hits = searcher.search(q, QueryInputs(), scope.read_filter()).hits
    assert {h.id for h in hits} == {p.id for p in points if p.payload["library"] != "theirs"} - {points[0].id}
    with pytest.raises(NotFoundError):
        searcher.search(q.model_copy(update={"positive_ids": [points[1].id]}), QueryInputs(), scope.read_filter())
