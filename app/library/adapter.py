"""Small projection heads trained on a collection's own (image, tags text) pairs.

The OpenCLIP towers stay frozen and no image is re-encoded: the training pairs are the
stored `image` vectors and a text-tower embedding of each item's tags text. One head per
tower maps its vectors into the shared space:

* same dimension — a residual linear layer, x + W·x + b, with W and b initialised to zero:
  before training the heads are the identity, so the frozen model is the baseline;
* different dimensions (a sentence-transformers text view: 384 → 512) — a linear map
  initialised by ridge regression of image vectors on text vectors: the closed-form map
  is the baseline, and contrastive training starts from it.

The loss is the symmetric InfoNCE of CLIP (text→image and image→text cross-entropy over
a batch, learnable temperature); items that share the same tags text are all positives
of each other (soft targets), so a tag-only library does not fight itself. Train and
validation are split by text, so validation queries are texts never seen in training.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app.errors import ModelMismatchError, WeightsUnavailableError
from app.search.metrics import average_precision, reciprocal_rank

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


def info_nce(image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Symmetric contrastive loss; `targets` rows sum to 1 (soft positives)."""
    logits = logit_scale.clamp(max=math.log(100)).exp() * text @ image.T
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets.T)) / 2


def split_by_key(keys: Sequence[str], val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row indices, every row of a key on the same side."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"`val_fraction` must be between 0 and 1 (exclusive) but is {val_fraction}")
    unique = sorted(set(keys))
    if len(unique) < 2:
        raise ValueError(f"need at least 2 distinct texts to split, got {len(unique)}")
    order = np.random.default_rng(seed).permutation(len(unique))
    n_val = min(len(unique) - 1, max(1, round(len(unique) * val_fraction)))
    val_keys = {unique[i] for i in order[:n_val]}
    is_val = np.array([k in val_keys for k in keys])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def text_to_image_metrics(text: np.ndarray, image: np.ndarray, keys: Sequence[str]) -> dict[str, float]:
    """Each distinct text queries the images of the same rows; relevant: the images whose
    text is that text. Means of reciprocal rank (MRR) and average precision (mAP)."""
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    ids = [str(i) for i in range(len(keys))]
    scores = text[list(first.values())] @ image.T
    rrs, aps = [], []
    for row, key in zip(scores, first, strict=True):
        ranked = [ids[j] for j in np.argsort(-row, kind="stable")]
        relevant = {ids[j] for j, k in enumerate(keys) if k == key}
        rrs.append(reciprocal_rank(ranked, relevant))
        aps.append(average_precision(ranked, relevant))
    return {"MRR": float(np.mean(rrs)), "mAP": float(np.mean(aps)), "queries": float(len(first))}


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    seed: int = 0
    heads: tuple[str, ...] = HEADS  # the heads that learn; the others stay the identity / baseline
    ridge: float = 1e-2  # regulariser of the closed-form start when the dimensions differ


@dataclass
class TrainResult:
    adapter: Adapter
    before: dict[str, dict[str, float]]  # split → metrics
    after: dict[str, dict[str, float]]
    losses: list[float] = field(default_factory=list)
    n_train: int = 0
    n_val: int = 0


def _ridge_init(head: Head, text: np.ndarray, image: np.ndarray, alpha: float) -> None:
    x = np.hstack([text, np.ones((len(text), 1), dtype=np.float32)])
    w = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ image)  # (dim_in + 1, dim_out)
    with torch.no_grad():
        head.linear.weight.copy_(torch.as_tensor(w[:-1].T, dtype=torch.float32))
        head.linear.bias.copy_(torch.as_tensor(w[-1], dtype=torch.float32))


def _evaluate(adapter: Adapter, text: np.ndarray, image: np.ndarray, keys: Sequence[str]) -> dict[str, float]:
    return text_to_image_metrics(adapter.project("text", text), adapter.project("image", image), keys)


def train_adapter(image: np.ndarray, text: np.ndarray, keys: Sequence[str], config: TrainConfig) -> TrainResult:
    """Fit the heads on the training split; metrics before and after on both splits."""
    image = np.asarray(image, dtype=np.float32)
    text = np.asarray(text, dtype=np.float32)
    if len(image) != len(text) or len(text) != len(keys):
        raise ValueError(
            f"`image`, `text` and `keys` must have one row per item but have {len(image)}, {len(text)} and {len(keys)}"
        )
    unknown = set(config.heads) - set(HEADS)
    if unknown or not config.heads:
        raise ValueError(f"`heads` must be a non-empty subset of {list(HEADS)} but is {list(config.heads)}")
    torch.manual_seed(config.seed)
    train, val = split_by_key(keys, config.val_fraction, config.seed)
    k_train, k_val = [keys[i] for i in train], [keys[i] for i in val]
    adapter = Adapter(image.shape[1], text.shape[1])
    if not adapter.text.residual:
        _ridge_init(adapter.text, text[train], image[train], config.ridge)
    adapter.eval()
    before = {
        "train": _evaluate(adapter, text[train], image[train], k_train),
        "validation": _evaluate(adapter, text[val], image[val], k_val),
    }

    params = [p for name in config.heads for p in getattr(adapter, name).parameters()] + [adapter.logit_scale]
    optim = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    x_img, x_txt = torch.as_tensor(image[train]), torch.as_tensor(text[train])
    key_ids = torch.as_tensor(np.unique(np.array(k_train), return_inverse=True)[1])
    gen = torch.Generator().manual_seed(config.seed)
    losses = []
    adapter.train()
    for _ in range(config.epochs):
        total, batches = 0.0, 0
        for batch in torch.split(torch.randperm(len(train), generator=gen), config.batch_size):
            if len(batch) < 2:
                continue
            same = (key_ids[batch, None] == key_ids[None, batch]).float()
            loss = info_nce(
                adapter.image(x_img[batch]),
                adapter.text(x_txt[batch]),
                adapter.logit_scale,
                same / same.sum(1, keepdim=True),
            )
            optim.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optim.step()
            total, batches = total + float(loss.detach()), batches + 1
        losses.append(total / max(1, batches))
    adapter.eval()
    after = {
        "train": _evaluate(adapter, text[train], image[train], k_train),
        "validation": _evaluate(adapter, text[val], image[val], k_val),
    }
    return TrainResult(adapter, before, after, losses, len(train), len(val))


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
