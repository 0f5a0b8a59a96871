"""Model loads that never hold a request (or a shutdown) for long, and unloads after idle.

`BoundedLoad` runs a load once, in a daemon thread: a caller waits at most `timeout_s` for
it, a failure (or a load still running after `timeout_s`) is remembered for `retry_s`, so later
callers fail at once with the same reason and a Retry-After instead of hitting the hub again,
and nothing joins the thread, so a stuck download never keeps a stopping server alive. A load
that finishes after its callers gave up still counts: the next caller gets the model.

`IdleUnload` frees a loaded model nobody has used for MODEL_IDLE_UNLOAD_S (never one in use), so
one GPU can host the story, caption and image models in turn; the next use loads it again.
"""

from __future__ import annotations

import abc
import contextlib
import gc
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import ClassVar

from app.errors import ClippyError, WeightsUnavailableError

log = logging.getLogger(__name__)


class BoundedLoad:
    def __init__(
        self,
        what: str,
        load: Callable[[], None],
        *,
        timeout_s: float,
        retry_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self._load = load
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded = False
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._failure: WeightsUnavailableError | None = None
        self._failed_at = 0.0
        # Loads started (tests and logs: a cached failure starts none).
        self.attempts = 0

    @property
    def loaded(self) -> bool:
        return self._loaded

    def __call__(self) -> None:
        """Return once loaded; raise WeightsUnavailableError (503, Retry-After) otherwise."""
        with self._lock:
            if self._loaded:
                return
            if self._failure is not None and self._clock() < self._failed_at + self.retry_s:
                raise self._cached()
            if self._thread is None:  # else: a load is running (maybe past an earlier timeout)
                self._failure = None
                self._done = threading.Event()
                self._thread = threading.Thread(target=self._run, name=f"load {self.what}", daemon=True)
                self.attempts += 1
                self._thread.start()
            done = self._done
        finished = done.wait(self.timeout_s)
        with self._lock:
            if self._loaded:
                return
            if not finished and self._failure is None:
                self._fail(
                    WeightsUnavailableError(
                        f"{self.what} did not load within {self.timeout_s:g} s (MODEL_LOAD_TIMEOUT_S); it goes on "
                        "loading in the background.",
                        model=self.what,
                    )
                )
            raise self._cached()

    def reset(self) -> None:
        """Forget the model (after unloading it) and any remembered failure."""
        with self._lock:
            self._loaded = False
            self._failure = None

    def _run(self) -> None:
        try:
            self._load()
        except Exception as e:  # any failure is the answer for every caller until retry_s
            error = (
                e
                if isinstance(e, WeightsUnavailableError)
                else WeightsUnavailableError(
                    f"{self.what} failed to load: {str(e).splitlines()[0][:120] if str(e) else type(e).__name__}",
                    model=self.what,
                ).because(e)
            )
            if not isinstance(e, ClippyError):
                log.exception("loading %s failed", self.what)
            with self._lock:
                self._fail(error)
                self._thread = None
                self._done.set()
            return
        with self._lock:
            self._loaded = True
            self._failure = None
            self._thread = None
            self._done.set()

    def _fail(self, error: WeightsUnavailableError) -> None:
        self._failure = error
        self._failed_at = self._clock()
        log.warning("%s unavailable for %g s (MODEL_RETRY_S): %s", self.what, self.retry_s, error.message)

    def _cached(self) -> WeightsUnavailableError:
        assert self._failure is not None
        left = max(1, math.ceil(self._failed_at + self.retry_s - self._clock()))
        details = {k: v for k, v in self._failure.details.items() if k != "retry_after"}
        error = WeightsUnavailableError(self._failure.message, **details, retry_after=left)
        error.technical = self._failure.technical
        return error


def free_memory() -> None:
    """Collect what dropped weights leave, and hand CUDA's cached blocks back to the device."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch comes with every local backend
        pass


class IdleUnload:
    """Calls `release` once a loaded model has gone unused for `idle_s` seconds (0: never).

    Every use runs inside `using()`. When the last use ends, a daemon timer (nobody joins it:
    it never keeps a stopping process alive) calls `unload_if_idle`, which releases the model
    unless it is loaded no more, in use, or used again since. A use that starts while the
    model is being released waits for that, then loads it again."""

    def __init__(
        self,
        what: str,
        release: Callable[[], None],
        idle_s: float,
        *,
        loaded: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.idle_s = idle_s
        self._release = release
        self._loaded = loaded
        self._clock = clock
        self._lock = threading.Lock()
        self._in_use = 0
        self._last_used = clock()
        self._timer: threading.Timer | None = None

    @contextlib.contextmanager
    def using(self) -> Iterator[None]:
        with self._lock:
            self._in_use += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_use -= 1
                self._last_used = self._clock()
                idle = self._in_use == 0
            if idle:
                self._arm()

    def unload_if_idle(self) -> bool:
        """Release the model when loaded, unused and idle for `idle_s`; True if it did."""
        with self._lock:  # held while releasing: no use starts on weights being dropped
            if not self._loaded() or self._in_use or self._clock() - self._last_used < self.idle_s:
                return False
            self._release()
        free_memory()
        log.info("%s unloaded after %g s unused (MODEL_IDLE_UNLOAD_S)", self.what, self.idle_s)
        return True

    def close(self) -> None:
        """Stop the timer (shutting down: the owner frees the model itself)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _arm(self) -> None:
        if self.idle_s <= 0:
            return
        timer = threading.Timer(self.idle_s, self.unload_if_idle)
        timer.daemon = True
        with self._lock:
            previous, self._timer = self._timer, timer
        if previous is not None:
            previous.cancel()
        timer.start()


class LocalModel(abc.ABC):
    """A model this process loads on first use and frees after MODEL_IDLE_UNLOAD_S unused: the
    story VLM and the describe captioner. `load()` is bounded (BoundedLoad); a use runs inside
    `self._idle.using()` (never unloaded under it) and calls the model under `self._lock`."""

    role: ClassVar[str]  # what the model is for, in logs: "story", "describe"

    def __init__(
        self,
        *,
        load_timeout_s: float = 30.0,
        retry_s: float = 300.0,
        idle_unload_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._loader = BoundedLoad(self.model_name, self._load, timeout_s=load_timeout_s, retry_s=retry_s)
        loader = self._loader
        what = f"{self.role} model {self.model_name}"
        self._idle = IdleUnload(what, self._release, idle_unload_s, loaded=lambda: loader.loaded, clock=clock)

    @property
    @abc.abstractmethod
    def model_name(self) -> str: ...

    @property
    def loaded(self) -> bool:
        return self._loader.loaded

    def load(self) -> None:
        """Load once (blocking, bounded); WeightsUnavailableError (503) when it cannot."""
        self._loader()

    def unload_if_idle(self) -> bool:
        """Free the weights when unused for MODEL_IDLE_UNLOAD_S (the idle timer calls this)."""
        return self._idle.unload_if_idle()

    def close(self) -> None:
        """Stop the idle timer and free the model (shutting down); the next use loads it again."""
        self._idle.close()
        with self._lock:
            self._release()
        free_memory()

    def _release(self) -> None:
        # Nothing uses the model: IdleUnload releases only when no use runs, close() under the lock.
        self._unload()
        self._loader.reset()

    @abc.abstractmethod
    def _load(self) -> None: ...

    def _unload(self) -> None:  # noqa: B027 - a backend without weights holds nothing to free
        """Drop every reference to the weights (they are collected after)."""
