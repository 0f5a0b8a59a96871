"""Training the projection heads of app/embedding/adapter.py on a collection's own (image,
tags text) pairs.

The OpenCLIP towers stay frozen and no image is re-encoded: the training pairs are the
stored `image` vectors and a text-tower embedding of each item's tags text. A head between
different dimensions starts from the ridge-regression map of image vectors on text vectors,
so the closed-form map is the baseline and contrastive training starts from it.

The loss is the symmetric InfoNCE of CLIP (text→image and image→text cross-entropy over
a batch, learnable temperature); items that share the same tags text are all positives
of each other (soft targets), so a tag-only library does not fight itself. Train and
validation are split by text, so validation queries are texts never seen in training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from app.embedding.adapter import HEADS, Adapter, Head
from app.search.metrics import average_precision, reciprocal_rank


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
