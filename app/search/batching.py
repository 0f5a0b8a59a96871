"""Micro-batching for the query encoders: concurrent requests share one forward per tower.

Each request used to run its own forward, so fifty concurrent queries were fifty small
forwards fighting over the same cores. A `MicroBatcher` puts a tower behind a bounded queue
and one worker thread: the worker takes what is queued (waiting up to `wait_s` for more,
until `max_batch` items), runs one forward for all of it and hands each caller its rows, as
embedding servers such as infinity and TEI do. While a forward runs, the next requests
queue up, so a busy tower batches by itself and an idle one answers at once.

A full queue is load being shed: `BusyError`, 503 with Retry-After (the same answer as
IMAGE_SLOTS). ENCODE_BATCHING=false turns it all off (each request its own forward).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from app.config import Settings
from app.errors import BusyError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Request(Generic[T]):
    items: Sequence[T]
    done: Future[np.ndarray] = field(default_factory=Future)


class MicroBatcher(Generic[T]):
    """`forward(items) -> rows` (one row per item) behind a bounded queue and one worker.

    `max_batch`: the most items one forward gets (a request larger than that runs alone, in
    the caller's thread). `wait_s`: how long the worker waits for more requests once it has
    one. `max_queued`: requests waiting beyond which callers get `BusyError`."""

    def __init__(
        self,
        name: str,
        forward: Callable[[list[T]], np.ndarray],
        *,
        max_batch: int,
        wait_s: float,
        max_queued: int,
        retry_after_s: int = 1,
    ) -> None:
        if max_batch < 1 or max_queued < 1 or wait_s < 0:
            raise ValueError(
                f"`max_batch` and `max_queued` must be >= 1 and `wait_s` >= 0, got {max_batch}, {max_queued}, {wait_s}"
            )
        self.name = name
        self.forward = forward
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.max_queued = max_queued
        self.retry_after_s = retry_after_s
        self._queue: queue.Queue[_Request[T] | None] = queue.Queue(maxsize=max_queued)
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._carry: _Request[T] | None = None  # taken from the queue, runs in the next batch (worker only)
        self.forwards = 0  # forwards run by the worker (for tests and metrics)

    def pending(self) -> int:
        """Requests queued and not yet taken by the worker."""
        return self._queue.qsize()

    def __call__(self, items: Sequence[T]) -> np.ndarray:
        if not items:
            return self.forward([])
        if len(items) >= self.max_batch:  # a batch already: nothing to gather
            return self.forward(list(items))
        request: _Request[T] = _Request(items)
        self._ensure_worker()
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise BusyError(
                f"The {self.name} encoder has {self.max_queued} requests waiting (ENCODE_QUEUE_MAX); retry shortly.",
                retry_after=self.retry_after_s,
            ) from None
        return request.done.result()

    def close(self) -> None:
        """Stop the worker after the requests already queued (blocks until it has)."""
        with self._lock:
            self._closed = True
            worker = self._worker
        if worker is not None:
            self._queue.put(None)
            worker.join()

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} encoder's batcher is closed")
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name=f"encode-{self.name}", daemon=True)
                self._worker.start()

    def _gather(self, first: _Request[T]) -> tuple[list[_Request[T]], bool]:
        """`first` and what joins it: everything queued now, then up to `wait_s` more, until
        `max_batch` items. Returns the batch and whether the queue asked the worker to stop."""
        batch, size = [first], len(first.items)
        deadline = time.monotonic() + self.wait_s
        while size < self.max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    nxt = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if nxt is None:
                return batch, True
            if size + len(nxt.items) > self.max_batch:
                self._carry = nxt  # would overflow this batch: it starts the next one
                break
            batch.append(nxt)
            size += len(nxt.items)
        return batch, False

    def _run(self) -> None:
        while True:
            first, self._carry = (self._carry, None) if self._carry is not None else (self._queue.get(), None)
            if first is None:
                return
            batch, stop = self._gather(first)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Request[T]]) -> None:
        items: list[T] = [item for r in batch for item in r.items]
        try:
            rows = self.forward(items)
            self.forwards += 1
        except BaseException as e:  # every caller of this batch gets the failure
            for r in batch:
                r.done.set_exception(e)
            if not isinstance(e, Exception):
                raise
            return
        at = 0
        for r in batch:
            r.done.set_result(rows[at : at + len(r.items)])
            at += len(r.items)


@dataclass(frozen=True)
class BatchSettings:
    """ENCODE_BATCH_SIZE, ENCODE_BATCH_WAIT_MS, ENCODE_QUEUE_MAX (app/config.py)."""

    max_batch: int
    wait_ms: float
    max_queued: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BatchSettings | None:
        """None when ENCODE_BATCHING is off."""
        if not settings.ENCODE_BATCHING:
            return None
        return cls(settings.ENCODE_BATCH_SIZE, settings.ENCODE_BATCH_WAIT_MS, settings.ENCODE_QUEUE_MAX)

    def batcher(self, name: str, forward: Callable[[list[T]], np.ndarray]) -> MicroBatcher[T]:
        return MicroBatcher(
            name, forward, max_batch=self.max_batch, wait_s=self.wait_ms / 1000, max_queued=self.max_queued
        )
