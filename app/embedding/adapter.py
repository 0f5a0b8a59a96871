"""Trained projection heads over the frozen OpenCLIP towers: the model, its files, and how
the running service applies it. Training lives in app/library/adapter.py.

One head per tower maps its vectors into the shared space:

* same dimension — a residual linear layer, x + W·x + b, with W and b initialised to zero:
  before training the heads are the identity, so the frozen model is the baseline;
* different dimensions (a sentence-transformers text view: 384 → 512) — a linear map
  (initialised by ridge regression when trained).

Applied (setting `ADAPTER`, `open_adapter`): each head only where it was trained. The image
head maps picture vectors of the `image` view — at ingest, after the embedding cache (which
keeps raw tower vectors) — and an example picture's `image` query; the text head maps text
queries of the `image` view (the CLIP text tower's, or the `text` view encoder's when the
adapter was trained on stored sentence-transformers vectors). The `edge` view (edge maps and
sketches) and the `text` view (tags text against query text) are left as the frozen towers
make them: no head saw them. The adapter's identity is part of the embedding space.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app.errors import ModelMismatchError, WeightsUnavailableError

HEADS = ("image", "text")


class Head(nn.Module):
    """Residual (identity at start) when in == out, a plain linear map otherwise; L2-normalised."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.residual = dim_in == dim_out
        self.linear = nn.Linear(dim_in, dim_out)
        if self.residual:
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + self.linear(x) if self.residual else self.linear(x)
        return F.normalize(y, dim=-1)


class Adapter(nn.Module):
    def __init__(self, image_dim: int, text_dim: int) -> None:
        super().__init__()
        self.image = Head(image_dim, image_dim)
        self.text = Head(text_dim, image_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    @torch.no_grad()
    def project(self, head: str, rows: np.ndarray) -> np.ndarray:
        """Vectors through one head (`image` at ingest/backfill, `text` at query time)."""
        if head not in HEADS:
            raise ValueError(f"`head` must be one of {list(HEADS)} but is {head!r}")
        module: Head = getattr(self, head)
        out: np.ndarray = module(torch.as_tensor(np.asarray(rows, dtype=np.float32))).numpy()
        return out


# --- files ------------------------------------------------------------------------------------


def save_adapter(adapter: Adapter, path: Path, meta: dict[str, Any]) -> tuple[Path, Path]:
    """`<path>.safetensors` (the heads' weights) and `<path>.json` (what made them)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    weights, sidecar = path.with_suffix(".safetensors"), path.with_suffix(".json")
    tensors = {k: v.detach().contiguous() for k, v in adapter.state_dict().items()}
    save_file(tensors, str(weights))
    full = {
        "format": "clippy-adapter/1",
        "kind": "residual-linear",
        **meta,
        "imageDim": adapter.image.linear.in_features,
        "textDim": adapter.text.linear.in_features,
    }
    sidecar.write_text(json.dumps(full, indent=2) + "\n")
    return weights, sidecar


def load_adapter(path: Path) -> tuple[Adapter, dict[str, Any]]:
    from safetensors.torch import load_file

    meta = json.loads(path.with_suffix(".json").read_text())
    adapter = Adapter(int(meta["imageDim"]), int(meta["textDim"]))
    adapter.load_state_dict(load_file(str(path.with_suffix(".safetensors"))))
    adapter.eval()
    return adapter, meta


# --- applying a trained adapter (setting ADAPTER) -------------------------------------------

_SUFFIXES = (".safetensors", ".json")


def resolve_adapter(value: str, root: Path, collection: str) -> Path:
    """The file stem `ADAPTER` names: a path (with or without its suffix), `<collection>/<name>`
    under `root` (ADAPTERS_ROOT), or `<name>` under `root/collection` (where the script saves)."""
    given = Path(value).expanduser()
    stem = given.with_suffix("") if given.suffix in _SUFFIXES else given
    candidates = list(dict.fromkeys([stem, root / stem, root / collection / stem]))
    for c in candidates:
        if c.with_suffix(".safetensors").is_file() and c.with_suffix(".json").is_file():
            return c
    available = (
        sorted(str(p.relative_to(root).with_suffix("")) for p in root.glob("*/*.safetensors")) if root.is_dir() else []
    )
    raise WeightsUnavailableError(
        f"`ADAPTER` is {value!r} but no adapter (.safetensors + .json) is at "
        f"{', '.join(str(c) for c in candidates)}. Available under ADAPTERS_ROOT ({root}): {available}. "
        "Train one with `python scripts/finetune_adapter.py`, or unset ADAPTER.",
        adapter=value,
        available=available,
    )


@dataclass(frozen=True)
class AppliedAdapter:
    """A trained adapter as the running service applies it (see the module docstring)."""

    adapter: Adapter
    meta: dict[str, Any]
    identity: dict[str, Any]  # recorded in the collection's embedding space
    image_head: bool  # maps `image` view picture vectors
    text_head: bool  # maps text queries of the `image` view
    text_input: str  # the text head's input: "clip" (CLIP text tower) or "text-view" (TEXT_MODEL)

    def project_image(self, rows: np.ndarray) -> np.ndarray:
        return self.adapter.project("image", rows) if self.image_head else rows

    def project_text(self, rows: np.ndarray) -> np.ndarray:
        return self.adapter.project("text", rows) if self.text_head else rows


def open_adapter(
    path: Path, *, model: str, pretrained: str, image_dim: int, text_model: str, text_dim: int
) -> AppliedAdapter:
    """Load the adapter at `path` (a stem) and check that it was trained for the running towers."""
    adapter, meta = load_adapter(path)
    name = str(meta.get("name") or path.name)
    trained_text = str(meta.get("textModel") or "clip")
    text_input = "clip" if trained_text == "clip" else "text-view"
    wanted: dict[str, tuple[Any, Any]] = {
        "model": (meta.get("model"), model),
        "pretrained": (meta.get("pretrained"), pretrained),
        "imageDim": (int(meta["imageDim"]), image_dim),
        "textDim": (int(meta["textDim"]), image_dim if text_input == "clip" else text_dim),
    }
    if text_input == "text-view":
        wanted["textModel"] = (trained_text, text_model)
    diffs = {k: v for k, v in wanted.items() if v[0] is not None and v[0] != v[1]}
    if diffs:
        said = ", ".join(f"{k}: adapter has {a!r}, running {b!r}" for k, (a, b) in diffs.items())
        raise ModelMismatchError(
            f"Adapter {name!r} ({path}) was trained for other towers ({said}). Set "
            "MODEL_NAME/PRETRAINED/TEXT_MODEL to match it, train one for these, or unset ADAPTER.",
            adapter=name,
        )
    heads = set(meta.get("heads") or HEADS)
    # An untrained residual head is exactly the identity: skip it. A text head between
    # different dimensions is the ridge map the image head was trained against: keep it.
    image_head = "image" in heads
    text_head = "text" in heads or not adapter.text.residual
    digest = hashlib.sha256(path.with_suffix(".safetensors").read_bytes()).hexdigest()[:16]
    applied = [h for h, on in (("image", image_head), ("text", text_head)) if on]
    identity = {"name": name, "sha256": digest, "heads": applied}
    return AppliedAdapter(adapter, meta, identity, image_head, text_head, text_input)
