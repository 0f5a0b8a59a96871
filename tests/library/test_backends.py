"""Library paging and the near-duplicate scan agree on both store backends (congruence)."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from app.library.browse import list_images
from app.library.duplicates import duplicate_report
from app.storage.schema import CollectionSchema
from app.storage.types import PointRecord

SPACE = {"model": "m", "pretrained": "p", "image_dim": 8, "text_model": "clip", "text_dim": 8, "edge": {"version": "1"}}


def _filled(store_factory: Any) -> Any:
    store = store_factory()
    store.create(CollectionSchema(image_dim=8, text_dim=8, space=SPACE))
    rng = np.random.default_rng(0)
    base = rng.normal(size=(12, 8))
    base[11] = base[3] + 0.01 * rng.normal(size=8)  # a planted near copy of item 3
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    store.upsert(
        [
            PointRecord(
                str(uuid.UUID(int=i + 1)),
                {"image": base[i].tolist(), "edge": base[i].tolist()},
                {"tags": ["odd" if i % 2 else "even"], "library": "a" if i < 8 else "b", "sha256": f"h{i % 11}"},
            )
            for i in range(12)
        ]
    )
    return store


def test_pages_and_duplicates_are_the_same_on_both_backends(store_factory: Any) -> None:
    store = _filled(store_factory)
    seen, cursor = [], None
    while True:
        page = list_images(store, library="a", cursor=cursor, limit=3)
        seen += [i.id for i in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [str(uuid.UUID(int=i + 1)) for i in range(8)] and page.total == 8
    assert list_images(store, tag="odd").total == 6
    report = duplicate_report(store, 0.99)
    assert [{m.id for m in g.members} for g in report.exact] == [{str(uuid.UUID(int=1)), str(uuid.UUID(int=12))}]
    assert [{m.id for m in g.members} for g in report.near] == [{str(uuid.UUID(int=4)), str(uuid.UUID(int=12))}]


def test_the_engine_matrix_and_batched_searches_find_the_same_near_pairs(store_factory: Any) -> None:
    """qdrant-client answers with its distance matrix, qdrant-edge (no matrix API) with
    batched nearest-neighbour queries; forcing the batched path on either gives the same
    pairs, whatever the batch size."""
    from app.library.duplicates import scan_near_pairs

    store = _filled(store_factory)
    done: list[int] = []
    items, matrix = scan_near_pairs(store, 0.99, progress=done.append)
    assert len(items) == 12 and sum(done) == 12
    expected = {(str(uuid.UUID(int=4)), str(uuid.UUID(int=12)))}
    assert {(a, b) for a, b, _ in matrix} == expected
    for batch in (1, 5, 64):
        _, batched = scan_near_pairs(store, 0.99, batch=batch, use_matrix=False)
        assert {(a, b) for a, b, _ in batched} == expected
        assert abs(batched[0][2] - matrix[0][2]) < 1e-4
    from app.storage.remote import RemoteStore

    used_matrix = store.matrix_pairs("image", None, sample=12, limit=3)
    assert (used_matrix is not None) == isinstance(store, RemoteStore)
