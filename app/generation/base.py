"""The generation provider interface.

A provider knows its SDK, not Qdrant nor HTTP. The public `generate()` (template method)
loads the weights/client once, then runs the provider's blocking `_generate` in a worker
thread; progress and cancellation flow through `Hooks` (a job's context).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import anyio
from PIL import Image

from app.errors import InvalidInputError
from app.generation.loading import IdleUnload, free_memory
from app.generation.models import EditMode, GenerateRequest, Role

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ref:
    role: Role
    weight: float
    image: Image.Image
    label: str = ""


@dataclass(frozen=True)
class GenerationSpec:
    """A validated request with every image decoded: what a provider generates from."""

    prompt: str
    negative_prompt: str | None
    refs: list[Ref]
    sketch: Image.Image | None
    sketch_weight: float
    seed: int
    width: int
    height: int
    n: int
    steps: int | None
    guidance: float | None
    # Edits: the picture to start from (at the output size's aspect), the binary mask
    # (white = edit) at the base's size, the strength to use, and the masked edit's mode.
    base: Image.Image | None = None
    mask: Image.Image | None = None
    strength: float | None = None
    edit_mode: EditMode | None = None


@dataclass
class Hooks:
    """Progress and cancellation for one generation; safe to call from the worker thread."""

    report: Callable[[int, int], None] = lambda step, total: None
    check_cancelled: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class ProviderOutput:
    images: list[Image.Image]
    model: str
    # Seeds actually used, one per image (None where the provider could not honour one).
    seeds: list[int | None]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Capabilities:
    max_refs: int
    max_n: int
    sketch: bool
    negative_prompt: bool
    ref_weights: bool
    # Allowed aspect ratios as "w:h" (None: any size, see `size_multiple` / `max_side`).
    aspect_ratios: tuple[str, ...] | None = None
    size_multiple: int = 8
    max_side: int = 4096
    # The largest seed the provider takes (Vertex AI: int32); image i gets `seed + i`.
    max_seed: int = 2**32 - 1
    # Takes a `baseImage` without a mask (img2img), and the `editMode`s it does under a mask.
    base_image: bool = False
    edit_modes: tuple[EditMode, ...] = ()


def aspect_ratio(width: int, height: int, allowed: tuple[str, ...], tolerance: float = 0.02) -> str:
    """The allowed "w:h" ratio closest to width/height, if within `tolerance` (relative)."""
    target = width / height
    best = min(allowed, key=lambda r: abs(_ratio(r) - target))
    if abs(_ratio(best) - target) / target > tolerance:
        raise InvalidInputError(
            f"`width` and `height` ({width}x{height}) must have one of the aspect ratios "
            f"{list(allowed)} for this provider.",
            width=width,
            height=height,
            allowed=list(allowed),
        )
    return best


def _ratio(r: str) -> float:
    w, h = r.split(":")
    return int(w) / int(h)


class ImageProvider(ABC):
    """One generation backend. Subclasses set `name` and implement `_load` and `_generate`."""

    name: ClassVar[str]

    def __init__(self, *, idle_unload_s: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._load_lock = threading.Lock()
        self._loaded = False
        # A provider holding weights frees them after MODEL_IDLE_UNLOAD_S unused (0: never).
        self._idle = IdleUnload(
            f"{self.name} provider", self._release, idle_unload_s, loaded=lambda: self._loaded, clock=clock
        )

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @property
    @abstractmethod
    def model_name(self) -> str: ...

    def configured(self) -> str | None:
        """None when usable; otherwise what setting is missing (checked at submit time)."""
        return None

    def check(self, request: GenerateRequest, *, size: bool = True) -> None:
        """Refuse what this provider cannot do, before a job is queued (→ 422). `size`: check
        the request's width and height too (an edit that takes its base's size checks it later)."""
        caps = self.capabilities
        if len(request.refs) > caps.max_refs:
            raise InvalidInputError(
                f"`refs` has {len(request.refs)} references; provider `{self.name}` takes at most {caps.max_refs}.",
                field="refs",
                limit=caps.max_refs,
            )
        if request.n > caps.max_n:
            raise InvalidInputError(
                f"`n` is {request.n}; provider `{self.name}` makes at most {caps.max_n} per request.",
                field="n",
                limit=caps.max_n,
            )
        if request.seed is not None and request.seed + request.n - 1 > caps.max_seed:
            raise InvalidInputError(
                f"`seed` is {request.seed}; provider `{self.name}` takes seeds up to {caps.max_seed}"
                + (f" (and `seed + n - 1` must fit, `n` is {request.n})." if request.n > 1 else "."),
                field="seed",
                limit=caps.max_seed,
            )
        if size:
            self.check_size(request.width, request.height)

    def check_size(self, width: int, height: int) -> None:
        """An output size this provider makes: an allowed aspect ratio, or multiples and a bound."""
        caps = self.capabilities
        if caps.aspect_ratios is not None:
            aspect_ratio(width, height, caps.aspect_ratios)
            return
        if width % caps.size_multiple or height % caps.size_multiple:
            raise InvalidInputError(
                f"`width` and `height` have to be divisible by {caps.size_multiple} but are {width} and {height}.",
                field="width",
            )
        if max(width, height) > caps.max_side:
            raise InvalidInputError(
                f"`width` and `height` must be at most {caps.max_side} for provider "
                f"`{self.name}` but are {width} and {height}.",
                field="width",
                limit=caps.max_side,
            )

    def check_edit(self, *, base: bool, mask: bool, mode: EditMode) -> None:
        """Refuse an edit this provider cannot do, before a job is queued (→ 422 naming the
        provider and what it cannot do). `base`/`mask`: whether the request has them."""
        caps = self.capabilities
        if mask and mode not in caps.edit_modes:
            does = f"it does {list(caps.edit_modes)}" if caps.edit_modes else "it does no masked edits"
            raise InvalidInputError(
                f"Provider `{self.name}` cannot do `editMode` {mode!r}; {does}.",
                field="editMode",
                provider=self.name,
                mode=mode,
                allowed=list(caps.edit_modes),
            )
        if base and not mask and not caps.base_image:
            raise InvalidInputError(
                f"Provider `{self.name}` does not start from a `baseImage` without a `mask`.",
                field="baseImage",
                provider=self.name,
            )

    def load(self) -> None:
        """Load weights / build the client once; later calls return at once (blocking)."""
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    async def generate(self, spec: GenerationSpec, hooks: Hooks | None = None) -> ProviderOutput:
        hooks = hooks or Hooks()

        def work() -> ProviderOutput:
            with self._idle.using():
                self.load()
                hooks.check_cancelled()
                return self._generate(spec, hooks)

        return await anyio.to_thread.run_sync(work)

    def unload_if_idle(self) -> bool:
        """Free the weights when unused for MODEL_IDLE_UNLOAD_S (the idle timer calls this)."""
        return self._idle.unload_if_idle()

    def close(self) -> None:
        """Release weights or clients (shutting down); the next generation loads again."""
        self._idle.close()
        self._release()
        free_memory()

    def _release(self) -> None:
        with self._load_lock:
            self._unload()
            self._loaded = False

    def _unload(self) -> None:  # noqa: B027 - providers without weights or clients hold nothing
        """Drop every reference to the weights or client (they are collected after)."""

    @abstractmethod
    def _load(self) -> None: ...

    @abstractmethod
    def _generate(self, spec: GenerationSpec, hooks: Hooks) -> ProviderOutput: ...
