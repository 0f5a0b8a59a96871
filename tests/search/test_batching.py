"""Encoder micro-batching: concurrent requests share one forward per tower, get the vectors
they would get alone, and a full queue answers 503 with Retry-After."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.errors import BusyError
from app.search.batching import BatchSettings, MicroBatcher
from app.search.encoder import QueryEncoder, QueryInputs
from app.services import Services
from app.storage.edge import EdgeStore
from app.storage.schema import CollectionSchema
from tests.support.images import shape_image
from tests.support.settings import tiny_settings


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        pause.wait(0.002)


class Gate:
    """A forward that records its batches and holds the first one until released, so that
    the next requests queue up behind it."""

    def __init__(self, forward: Callable[[list[Any]], np.ndarray]) -> None:
        self.forward = forward
        self.batches: list[list[Any]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: list[Any]) -> np.ndarray:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.release.wait(10)
        return self.forward(items)


def _rows(items: list[int]) -> np.ndarray:
    return np.array([[float(i), float(i) * 2] for i in items])


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(16) as ex:
        yield ex


def test_queued_requests_share_one_forward_and_get_their_own_rows(pool: ThreadPoolExecutor) -> None:
    gate = Gate(_rows)
    batcher = MicroBatcher("test", gate, max_batch=64, wait_s=0, max_queued=16)
    first = pool.submit(batcher, [100])
    assert gate.entered.wait(10)
    later = [pool.submit(batcher, [i, i + 1]) for i in range(0, 20, 2)]
    wait_until(lambda: batcher.pending() == 10)
    gate.release.set()

    assert first.result(10).tolist() == [[100.0, 200.0]]
    for i, f in zip(range(0, 20, 2), later, strict=True):
        assert f.result(10).tolist() == _rows([i, i + 1]).tolist()
    assert len(gate.batches) == 2  # the first alone, the ten queued behind it in one forward
    assert sorted(gate.batches[1]) == list(range(20))
    assert batcher.forwards == 2
    batcher.close()


def test_a_batch_stops_at_max_batch_and_the_rest_runs_next(pool: ThreadPoolExecutor) -> None:
    gate = Gate(_rows)
    batcher = MicroBatcher("test", gate, max_batch=4, wait_s=0, max_queued=16)
    first = pool.submit(batcher, [100])
    assert gate.entered.wait(10)
    later = [pool.submit(batcher, [i]) for i in range(6)]
    wait_until(lambda: batcher.pending() == 6)
    gate.release.set()
    assert [f.result(10).tolist() for f in later] == [_rows([i]).tolist() for i in range(6)]
    assert first.result(10).tolist() == [[100.0, 200.0]]
    assert [len(b) for b in gate.batches] == [1, 4, 2]
    batcher.close()


def test_a_full_queue_is_busy_with_retry_after(pool: ThreadPoolExecutor) -> None:
    gate = Gate(_rows)
    batcher = MicroBatcher("test", gate, max_batch=8, wait_s=0, max_queued=1)
    running = pool.submit(batcher, [1])
    assert gate.entered.wait(10)
    queued = pool.submit(batcher, [2])
    wait_until(lambda: batcher.pending() == 1)
    with pytest.raises(BusyError) as caught:
        batcher([3])
    assert caught.value.details["retry_after"] >= 1
    gate.release.set()
    assert running.result(10).tolist() == [[1.0, 2.0]]
    assert queued.result(10).tolist() == [[2.0, 4.0]]
    batcher.close()


def test_a_failed_forward_fails_every_request_of_its_batch(pool: ThreadPoolExecutor) -> None:
    def broken(items: list[int]) -> np.ndarray:
        raise RuntimeError("out of memory")

    gate = Gate(broken)
    batcher = MicroBatcher("test", gate, max_batch=8, wait_s=0, max_queued=8)
    futures: list[Future[np.ndarray]] = [pool.submit(batcher, [1])]
    assert gate.entered.wait(10)
    futures += [pool.submit(batcher, [i]) for i in range(3)]
    wait_until(lambda: batcher.pending() == 3)
    gate.release.set()
    for f in futures:
        with pytest.raises(RuntimeError, match="out of memory"):
            f.result(10)
    with pytest.raises(RuntimeError, match="out of memory"):
        batcher([5])
    batcher.close()


def test_concurrent_queries_get_the_vectors_they_get_alone(
    encoders: Encoders, monkeypatch: pytest.MonkeyPatch, pool: ThreadPoolExecutor
) -> None:
    """Batched forwards on the real (tiny) towers give each query the rows a single forward
    gives it; texts and pictures each share one forward per tower."""
    alone = QueryEncoder(encoders)
    batched = QueryEncoder(encoders, batching=BatchSettings(max_batch=64, wait_ms=0, max_queued=64))
    queries = [QueryInputs(text=f"a shape number {i}", sketch=shape_image(i % 5, i)) for i in range(8)]
    expected = [alone.encode(q) for q in queries]

    clip = encoders.clip
    texts, images = Gate(clip.encode_texts), Gate(clip.encode_preprocessed)
    images.release.set()  # pictures pass freely (batched as they come); texts are held
    monkeypatch.setattr(clip, "encode_texts", texts)
    monkeypatch.setattr(clip, "encode_preprocessed", images)
    first = pool.submit(batched.encode, QueryInputs(text="warm-up"))  # holds the text tower
    assert texts.entered.wait(10)
    futures = [pool.submit(batched.encode, q) for q in queries]
    # Every query has its picture vectors and waits for the text tower.
    wait_until(lambda: batched.queued().get(f"{clip.name} texts") == len(queries))
    texts.release.set()
    first.result(10)
    got = [f.result(20) for f in futures]
    batched.close()

    assert [len(b) for b in texts.batches] == [1, len(queries)]  # one text forward for all 8 queries
    assert sum(len(b) for b in images.batches) == len(queries)  # a sketch's drawing: one row each
    for g, e in zip(got, expected, strict=True):
        for view in ("image", "text", "edge"):
            np.testing.assert_allclose(np.stack(g.positives[view]), np.stack(e.positives[view]), atol=1e-5)
        np.testing.assert_allclose(np.stack(g.positives["shape"]), np.stack(e.positives["shape"]), atol=1e-6)
        assert g.sparse == e.sparse


def test_search_answers_503_with_retry_after_when_the_queue_is_full(
    encoders: Encoders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: ThreadPoolExecutor
) -> None:
    settings = tiny_settings(tmp_path, ENCODE_BATCHING=True, ENCODE_QUEUE_MAX=1, ENCODE_BATCH_WAIT_MS=0)
    store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
    store.create(CollectionSchema(image_dim=encoders.clip.dim, text_dim=encoders.text.dim, space=encoders.space()))
    gate = Gate(encoders.clip.encode_texts)
    monkeypatch.setattr(encoders.clip, "encode_texts", gate)
    services = Services.open(settings, encoders=encoders, store=store)
    body = {"queryText": "circle", "wImg": 1, "wTxt": 1, "wEdge": 0, "wTags": 0}
    with TestClient(create_app(settings, services)) as client:
        running = pool.submit(client.post, "/search/hybrid", json=body)
        assert gate.entered.wait(10)
        queued = pool.submit(client.post, "/search/hybrid", json=body)
        wait_until(lambda: services.searcher.encoder.queued().get(f"{encoders.clip.name} texts") == 1)
        refused = client.post("/search/hybrid", json=body)
        gate.release.set()
        assert running.result(20).status_code == 200
        assert queued.result(20).status_code == 200
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) >= 1
    assert "ENCODE_QUEUE_MAX" in refused.json()["detail"]


def test_batching_is_on_unless_turned_off(tmp_path: Path) -> None:
    assert BatchSettings.from_settings(tiny_settings(tmp_path)) is not None
    assert BatchSettings.from_settings(tiny_settings(tmp_path, ENCODE_BATCHING=False)) is None
