"""Duplicate grouping (pure), the store scan on a library with planted copies, the endpoint
and the CLI."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.library.duplicates import (
    Item,
    duplicate_report,
    exact_groups,
    files_by_content,
    near_groups,
    pairs_from_vectors,
)
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


def test_duplicates_endpoint_reports_groups_and_validates_threshold(
    client: TestClient, planted: dict[str, Any]
) -> None:
    r = client.get("/images/duplicates", params={"threshold": NEAR_THRESHOLD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["threshold"] == NEAR_THRESHOLD and body["scanned"] >= 11
    assert len(body["exact"]) == 1 and len(body["near"]) == 1
    assert body["near"][0]["keep"] == planted["pid"](planted["rows"][0]["path"])
    assert client.get("/images/duplicates", params={"threshold": 2}).status_code == 422


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
