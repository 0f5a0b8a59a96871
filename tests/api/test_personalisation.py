"""Personalisation (app/library/profiles.py): feedback per key owner builds decayed tag
affinities; `personalize: true` re-ranks by them, bounded and explained as the `profile`
view; off by default; deleting an image or a library removes what it contributed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.embedding import Encoders
from app.library.profiles import ProfileStore, decayed, profile_boost
from tests.seeds.play import World, world

ALICE, BOB = "alice-key-0123456789abcdef", "bob-key-0123456789abcdef"
A, B = {"x-api-key": ALICE}, {"x-api-key": BOB}
MAX_BOOST = 0.5


@pytest.fixture
def w(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders) -> Iterator[World]:
    keys = f"{ALICE}:admin:alice, {BOB}:admin:bob"
    with world(tmp_path_factory.mktemp("profiles"), encoders, API_KEYS=keys, PROFILE_MAX_BOOST=MAX_BOOST) as made:
        yield made


def search(w: World, headers: dict[str, str], personalize: bool | None = None) -> list[dict[str, Any]]:
    # Weights sent: every image is a hit whatever the defaults per query kind give the views.
    body: dict[str, Any] = {"queryText": "a shape", "wImg": 1, "wTxt": 1, "wEdge": 0, "wTags": 0, "limit": 6}
    if personalize is not None:
        body["personalize"] = personalize
    response = w.client.post("/search/hybrid", json=body, headers=headers)
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits


def feedback(w: World, headers: dict[str, str], image_id: str, action: str) -> dict[str, Any]:
    response = w.client.post("/feedback", json={"imageId": image_id, "action": action}, headers=headers)
    assert response.status_code == 200, response.text
    profile: dict[str, Any] = response.json()
    return profile


def test_saves_lift_what_the_owner_saved_bounded_and_explained(w: World) -> None:
    plain = search(w, A)
    # The lowest-ranked triangle is saved: personalised, the triangles come first.
    triangle = next(h for h in reversed(plain) if "triangle" in h["tags"])
    profile = feedback(w, A, triangle["id"], "save")
    assert {t["tag"] for t in profile["tags"]} == {"triangle", "pointy"} and profile["events"] == 1
    assert search(w, A) == plain, "off by default"
    assert search(w, A, personalize=False) == plain

    boosted = search(w, A, personalize=True)
    assert [h["id"] for h in boosted] != [h["id"] for h in plain]
    first = [h for h in boosted if "triangle" in h["tags"]]
    assert [h["id"] for h in boosted[: len(first)]] == [h["id"] for h in first]
    before = {h["id"]: h["score"] for h in plain}
    for hit in boosted:
        term = hit["views"]["profile"]
        assert term["weight"] == MAX_BOOST
        moved = hit["score"] - before[hit["id"]]
        assert abs(moved) <= MAX_BOOST + 1e-6
        assert (moved > 0) == ("triangle" in hit["tags"]) and (term["raw"] > 0) == ("triangle" in hit["tags"])


def test_dismissals_push_down_and_profiles_are_per_owner(w: World) -> None:
    plain = search(w, B)
    top = plain[0]
    feedback(w, B, top["id"], "dismiss")
    feedback(w, B, top["id"], "click")  # a click does not undo a dismiss: -2 + 1
    mine = w.client.get("/profile", headers=B).json()
    assert mine["owner"] == "bob" and mine["events"] == 2
    assert all(t["affinity"] < 0 for t in mine["tags"])
    boosted = search(w, B, personalize=True)
    assert boosted[0]["id"] != top["id"]
    # Alice's profile is her own: Bob's feedback changes nothing for her.
    assert w.client.get("/profile", headers=A).json()["events"] == 0
    assert [h["id"] for h in search(w, A, personalize=True)] == [h["id"] for h in search(w, A)]


def test_feedback_needs_an_image_the_key_may_read(w: World) -> None:
    unknown = w.client.post(
        "/feedback", json={"imageId": "00000000-0000-4000-8000-000000000000", "action": "save"}, headers=A
    )
    assert unknown.status_code == 404
    wrong = w.client.post("/feedback", json={"imageId": w.values["image_id"], "action": "love"}, headers=A)
    assert wrong.status_code == 422


def _wait(w: World, location: str) -> None:
    for _ in range(200):
        if w.client.get(location, headers=A).json()["status"] in ("succeeded", "failed"):
            return
        time.sleep(0.05)


def test_deleting_an_image_or_a_library_removes_what_it_contributed(w: World) -> None:
    # Alice's own library: the two pictures of the import folder, tagged `mine`.
    assert w.client.post("/libraries", json={"name": "alice-lib"}, headers=A).status_code == 201
    job = w.client.post(
        "/libraries/alice-lib/imports", json={"folder": w.values["import_folder"], "tags": ["mine"]}, headers=A
    )
    _wait(w, job.headers["location"])
    mine = w.client.get("/images", params={"library": "alice-lib"}, headers=A).json()["items"]
    assert len(mine) == 2
    for item in mine:
        feedback(w, A, item["id"], "save")
    default_circle = next(h for h in search(w, A) if "circle" in h["tags"])
    feedback(w, A, default_circle["id"], "save")
    tags = {t["tag"] for t in w.client.get("/profile", headers=A).json()["tags"]}
    assert {"circle", "mine"} <= tags

    assert w.client.delete(f"/images/{mine[0]['id']}", headers=A).status_code == 200
    assert w.client.get("/profile", headers=A).json()["events"] == 2
    assert w.client.delete("/libraries/alice-lib", headers=A).status_code == 200
    left = w.client.get("/profile", headers=A).json()
    assert left["events"] == 1 and {t["tag"] for t in left["tags"]} == {"circle", "round"}


def test_affinities_decay_with_age_and_the_boost_stays_bounded(tmp_path: Any) -> None:
    store = ProfileStore(tmp_path / "p.sqlite", half_life_days=10)
    now = time.time()
    store.record("ann", "a", "lib", "save", ["x"], at=now - 10 * 86400)
    store.record("ann", "b", "lib", "save", ["y"], at=now)
    affinities = store.affinities("ann", now=now)
    assert affinities["x"] == pytest.approx(1.5) and affinities["y"] == pytest.approx(3.0)
    assert decayed(2.0, 20 * 86400, 10 * 86400) == pytest.approx(0.5)
    for huge in (1e6, -1e6):
        assert abs(profile_boost(["x"], {"x": huge}, 0.2)[1]) <= 0.2
    assert profile_boost([], {"x": 1.0}, 0.2) == (0.0, 0.0)
    with pytest.raises(ValueError, match="max_boost"):
        profile_boost(["x"], {}, -1)
