"""Duplicate grouping (pure), the store scan on a library with planted copies, the endpoint
and the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.library.duplicates import (
    Item,
    duplicate_report,
    exact_groups,
    files_by_content,
    near_groups,
    pairs_from_vectors,
)
from app.services import Services
from tests.support.images import NEAR_THRESHOLD

# --- pure grouping ---------------------------------------------------------------------------


def test_exact_groups_collect_items_with_the_same_content_and_keep_the_largest() -> None:
    items = [
        Item("b", "h1", "lib1", width=10, height=10),
        Item("a", "h1", "lib2", width=20, height=20),
        Item("c", "h2", "lib1"),
        Item("d", None, "lib1"),
    ]
    [group] = exact_groups(items)
    assert group.kind == "exact" and group.keep == "a"
    assert [m.id for m in group.members] == ["a", "b"]
    assert exact_groups(items, per_library=True) == [], "the copies are in different libraries"


def test_near_groups_join_pairs_transitively_above_the_threshold() -> None:
    items = [Item(x) for x in "abcdef"]
    pairs = [("a", "b", 0.99), ("b", "c", 0.97), ("d", "e", 0.96), ("e", "f", 0.5), ("a", "a", 1.0)]
    groups = near_groups(items, pairs, threshold=0.95)
    assert [[m.id for m in g.members] for g in groups] == [["a", "b", "c"], ["d", "e"]]
    abc = groups[0]
    assert (abc.min_score, abc.max_score) == (0.97, 0.99)
    assert {m.id: m.score for m in abc.members} == {"a": 0.99, "b": 0.99, "c": 0.97}
    assert near_groups(items, pairs, threshold=0.98)[0].members[1].id == "b"
    assert len(near_groups(items, pairs, threshold=0.98)) == 1


def test_near_groups_leave_same_content_pairs_to_the_exact_report() -> None:
    items = [Item("a", "h"), Item("b", "h"), Item("c", "k")]
    groups = near_groups(items, [("a", "b", 1.0), ("b", "c", 0.99)], threshold=0.95)
    assert [[m.id for m in g.members] for g in groups] == [["b", "c"]]


def test_near_groups_refuse_a_threshold_outside_0_1() -> None:
    with pytest.raises(ValueError, match="`threshold` must be between 0 and 1 but is 1.5"):
        near_groups([], [], threshold=1.5)


def test_pairs_from_vectors_finds_every_pair_once_across_blocks() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 16))
    vecs = np.concatenate([base, base[:2] + 1e-3 * rng.normal(size=(2, 16))])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [f"p{i}" for i in range(8)]
    pairs = pairs_from_vectors(ids, vecs, threshold=0.999, block=3)
    assert sorted((a, b) for a, b, _ in pairs) == [("p0", "p6"), ("p1", "p7")]
    assert all(s >= 0.999 for _, _, s in pairs)


# --- planted copies in a real store ------------------------------------------------------------


def test_the_scan_reports_planted_exact_and_near_copies(planted: dict[str, Any]) -> None:
    pid = planted["pid"]
    report = duplicate_report(planted["store"], NEAR_THRESHOLD)
    assert report.scanned == 11
    [exact] = report.exact
    assert {m.id for m in exact.members} == {pid("planted/exact_copy.png"), pid("planted/exact_copy.png", "other")}
    [near] = report.near
    original, copy = pid(planted["rows"][0]["path"]), pid("planted/near_copy.jpg")
    assert {m.id for m in near.members} == {original, copy}
    assert near.keep == original, "the original has more pixels than its resized copy"
    assert near.min_score is not None and near.min_score >= NEAR_THRESHOLD


def test_the_scan_within_one_library_sees_no_cross_library_copy(planted: dict[str, Any]) -> None:
    report = duplicate_report(planted["store"], NEAR_THRESHOLD, library="default")
    assert report.scanned == 10 and report.exact == [] and len(report.near) == 1


def test_files_by_content_finds_copies_before_import(planted: dict[str, Any]) -> None:
    root = planted["root"]
    [group] = files_by_content(sorted(root.rglob("*.png")), root)
    assert {m.path for m in group.members} == {planted["rows"][1]["path"], "planted/exact_copy.png"}


def test_with_random_image_weights_near_scans_are_off_with_the_reason(
    client: TestClient, planted: dict[str, Any]
) -> None:
    r = client.get("/images/duplicates")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scanned"] >= 11 and len(body["exact"]) == 1, "exact copies are still listed"
    assert body["near"] == [] and body["nearScan"]["state"] == "off"
    assert "random weights" in body["nearScan"]["reason"]
    refused = client.post("/images/duplicates/scans", json={"threshold": NEAR_THRESHOLD})
    assert refused.status_code == 409 and "random weights" in refused.json()["detail"]


@pytest.fixture(scope="module")
def scans(planted: dict[str, Any], encoders: Encoders) -> Iterator[TestClient]:
    settings = planted["settings"].model_copy(update={"NEAR_DUPLICATES_WITH_RANDOM_WEIGHTS": True})
    services = Services.open(settings, encoders=encoders, store=planted["store"])
    with TestClient(create_app(settings, services)) as c:
        yield c


def _finished(client: TestClient, location: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(location).json()
        if job["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def test_a_scan_runs_as_a_job_and_the_report_shows_it_until_the_library_changes(
    scans: TestClient, planted: dict[str, Any]
) -> None:
    before = scans.get("/images/duplicates").json()
    assert before["nearScan"]["state"] == "none" and before["near"] == []
    r = scans.post("/images/duplicates/scans", json={"threshold": NEAR_THRESHOLD})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/jobs/{r.json()['id']}"
    job = _finished(scans, r.headers["location"])
    assert job["status"] == "succeeded", job
    assert job["kind"] == "duplicates" and job["progress"]["step"] == job["progress"]["total"] >= 11
    assert job["result"]["scanned"] >= 11 and job["result"]["seconds"] >= 0

    body = scans.get("/images/duplicates").json()
    assert body["nearScan"]["state"] == "succeeded" and body["nearScan"]["stale"] is False
    assert body["nearScan"]["jobId"] == job["id"] and body["threshold"] == NEAR_THRESHOLD
    [near] = body["near"]
    original = planted["pid"](planted["rows"][0]["path"])
    assert near["keep"] == original and near["minScore"] >= NEAR_THRESHOLD
    assert {m["id"] for m in near["members"]} == {original, planted["pid"]("planted/near_copy.jpg")}

    # Trashing the copy changes the library: the report says so and drops the lone original.
    copy = planted["pid"]("planted/near_copy.jpg")
    assert scans.delete(f"/images/{copy}").status_code == 200
    after = scans.get("/images/duplicates").json()
    assert after["nearScan"]["stale"] is True and "changed" in after["nearScan"]["reason"]
    assert after["near"] == []
    assert scans.post(f"/images/{copy}/restore").status_code == 200
    again = _finished(
        scans, scans.post("/images/duplicates/scans", json={"threshold": NEAR_THRESHOLD}).headers["location"]
    )
    assert again["status"] == "succeeded"
    fresh = scans.get("/images/duplicates").json()
    assert fresh["nearScan"]["stale"] is False and len(fresh["near"]) == 1


def test_a_scan_validates_its_request(scans: TestClient) -> None:
    assert scans.post("/images/duplicates/scans", json={"threshold": 2}).status_code == 422
    assert scans.post("/images/duplicates/scans", json={"neighbours": 0}).status_code == 422


def test_bulk_deletes_above_the_limit_need_the_count_typed(client: TestClient, planted: dict[str, Any]) -> None:
    ids = [planted["pid"](row["path"]) for row in planted["rows"][2:7]]
    refused = client.post("/images/deletions", json={"ids": ids})
    assert refused.status_code == 422 and "`confirm` set to 5" in refused.json()["detail"]
    assert client.post("/images/deletions", json={"ids": ids, "confirm": 4}).status_code == 422
    assert all(client.get(f"/image/{i}").status_code == 200 for i in ids), "nothing was deleted"
    r = client.post("/images/deletions", json={"ids": ids, "confirm": 5})
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["deleted"]] == ids and all(d["trashed"] for d in r.json()["deleted"])
    assert {i["id"] for i in client.get("/trash").json()["items"]} >= set(ids)
    for i in ids:
        assert client.post(f"/images/{i}/restore").status_code == 200
    # A few at once need no confirmation; an unknown id deletes nothing.
    unknown = client.post("/images/deletions", json={"ids": [ids[0], "00000000-0000-0000-0000-000000000000"]})
    assert unknown.status_code == 404 and client.get(f"/image/{ids[0]}").status_code == 200
    assert client.post("/images/deletions", json={"ids": ids[:2]}).status_code == 200
    for i in ids[:2]:
        assert client.post(f"/images/{i}/restore").status_code == 200


def test_find_duplicates_cli_writes_the_report_as_json(planted: dict[str, Any], tmp_path: Any) -> None:
    import find_duplicates

    settings = planted["settings"]
    out = tmp_path / "dups.json"
    code = find_duplicates.main(
        [
            "--qdrant-path",
            str(settings.QDRANT_PATH),
            "--collection",
            settings.COLLECTION,
            "--threshold",
            str(NEAR_THRESHOLD),
            "--files",
            str(planted["root"]),
            "--out",
            str(out),
        ],
        store=planted["store"],
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert len(data["store"]["exact"]) == 1 and len(data["store"]["near"]) == 1
    assert len(data["files"]) == 1
