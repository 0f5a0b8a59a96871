"""Fine-tuning the OpenCLIP towers themselves: the last N transformer blocks of each tower
learn (with the projections and the temperature), the rest stays frozen.

The frozen-adapter route (app/library/adapter.py) trains small heads on stored vectors; this
one re-encodes the pictures, so it can move what the heads cannot, at the cost of a new
embedding space (a new PRETRAINED: the library is embedded again). The same loss (symmetric
InfoNCE with soft positives for items that share a text), the same split by text and the same
metrics as the adapter, so the two compare on one table. Early stopping keeps the weights of
the epoch with the best validation MRR and stops after `patience` epochs without a better one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from app.embedding.base import l2_normalize
from app.imaging import to_rgb
from app.library.adapter import info_nce, split_by_key, text_to_image_metrics
from app.storage.files import atomic_write


@dataclass
class UnfreezeConfig:
    blocks: int = 2  # the last N transformer blocks of each tower
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-4  # projections, final norms, temperature
    backbone_lr: float = 1e-5  # the unfrozen blocks: smaller, so a small set does not wreck them
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    seed: int = 0
    patience: int = 3  # epochs without a better validation MRR before stopping


@dataclass
class UnfreezeResult:
    before: dict[str, dict[str, float]]
    after: dict[str, dict[str, float]]  # with the best epoch's weights
    best_epoch: int  # 0: no epoch beat the frozen model; its weights are kept
    epochs_run: int
    losses: list[float] = field(default_factory=list)
    val_mrr: list[float] = field(default_factory=list)  # per epoch
    n_train: int = 0
    n_val: int = 0
    trainable: dict[str, int] = field(default_factory=dict)  # parameter counts


def _blocks(tower: Any, name: str) -> nn.ModuleList:
    transformer = getattr(tower, "transformer", None)
    blocks = getattr(transformer, "resblocks", None)
    if not isinstance(blocks, nn.ModuleList):
        raise ValueError(
            f"the {name} tower has no transformer blocks to unfreeze (a ViT/transformer OpenCLIP model is needed); "
            "use the frozen adapter instead"
        )
    return blocks


def unfreeze_last_blocks(model: nn.Module, n: int) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Freeze `model`, then make the last `n` blocks of each tower trainable; returns
    (backbone parameters, head parameters: projections, final norms, temperature)."""
    if n < 1:
        raise ValueError(f"`blocks` must be at least 1 but is {n}")
    text_tower = getattr(model, "text", model)  # CustomTextCLIP keeps its text tower apart
    towers = {"image": _blocks(getattr(model, "visual", None), "image"), "text": _blocks(text_tower, "text")}
    for name, blocks in towers.items():
        if n > len(blocks):
            raise ValueError(f"`blocks` is {n} but the {name} tower has {len(blocks)} blocks")
    for p in model.parameters():
        p.requires_grad_(False)
    backbone = [p for blocks in towers.values() for block in blocks[-n:] for p in block.parameters()]
    visual: Any = getattr(model, "visual")  # noqa: B009  (checked by _blocks above)
    heads: list[nn.Parameter] = []
    for owner, names in ((visual, ("ln_post", "proj")), (text_tower, ("ln_final", "text_projection"))):
        for attr in names:
            part = getattr(owner, attr, None)
            if isinstance(part, nn.Parameter):
                heads.append(part)
            elif isinstance(part, nn.Module):
                heads.extend(part.parameters())
    if isinstance(scale := getattr(model, "logit_scale", None), nn.Parameter):
        heads.append(scale)
    for p in [*backbone, *heads]:
        p.requires_grad_(True)
    return backbone, heads


def _load(paths: Sequence[Path], preprocess: Callable[[Image.Image], torch.Tensor]) -> torch.Tensor:
    rows = []
    for path in paths:
        with Image.open(path) as img:
            rows.append(preprocess(to_rgb(img)))
    return torch.stack(rows)


def _encode(
    model: Any, paths: Sequence[Path], texts: Sequence[str], preprocess: Any, tokenizer: Any, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """Image and text vectors of the rows (unique texts encoded once), normalised."""
    model.eval()
    images, unique = [], list(dict.fromkeys(texts))
    with torch.inference_mode():
        for i in range(0, len(paths), 64):
            images.append(model.encode_image(_load(paths[i : i + 64], preprocess).to(device)).float().cpu().numpy())
        rows = [
            model.encode_text(tokenizer(unique[i : i + 64]).to(device)).float().cpu().numpy()
            for i in range(0, len(unique), 64)
        ]
    of = dict(zip(unique, np.concatenate(rows), strict=True))
    return l2_normalize(np.concatenate(images)), l2_normalize(np.stack([of[t] for t in texts]))


def finetune_towers(
    model: Any,
    preprocess: Callable[[Image.Image], torch.Tensor],
    tokenizer: Callable[[list[str]], torch.Tensor],
    paths: Sequence[Path],
    keys: Sequence[str],
    config: UnfreezeConfig,
    device: torch.device | None = None,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> UnfreezeResult:
    """Train `model` in place on (picture file, text) rows; it ends with the best epoch's weights."""
    if len(paths) != len(keys):
        raise ValueError(f"`paths` and `keys` must have one row per item but have {len(paths)} and {len(keys)}")
    if config.epochs < 1 or config.batch_size < 2 or config.patience < 1:
        raise ValueError("`epochs` and `patience` must be at least 1 and `batch_size` at least 2")
    device = device or next(model.parameters()).device
    torch.manual_seed(config.seed)
    train, val = split_by_key(keys, config.val_fraction, config.seed)
    p_train, k_train = [paths[i] for i in train], [keys[i] for i in train]
    p_val, k_val = [paths[i] for i in val], [keys[i] for i in val]

    def metrics(split_paths: list[Path], split_keys: list[str]) -> dict[str, float]:
        image, text = _encode(model, split_paths, split_keys, preprocess, tokenizer, device)
        return text_to_image_metrics(text, image, split_keys)

    before = {"train": metrics(p_train, k_train), "validation": metrics(p_val, k_val)}
    backbone, heads = unfreeze_last_blocks(model, config.blocks)
    optim = torch.optim.AdamW(
        [{"params": backbone, "lr": config.backbone_lr}, {"params": heads, "lr": config.lr}],
        weight_decay=config.weight_decay,
    )
    key_ids = torch.as_tensor(np.unique(np.array(k_train), return_inverse=True)[1])
    gen = torch.Generator().manual_seed(config.seed)
    best_mrr, best_epoch = before["validation"]["MRR"], 0
    best_state = copy.deepcopy(model.state_dict())
    losses: list[float] = []
    val_mrr: list[float] = []
    waited = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        total, batches = 0.0, 0
        for batch in torch.split(torch.randperm(len(train), generator=gen), config.batch_size):
            if len(batch) < 2:
                continue
            pixels = _load([p_train[i] for i in batch.tolist()], preprocess).to(device)
            tokens = tokenizer([k_train[i] for i in batch.tolist()]).to(device)
            image = nn.functional.normalize(model.encode_image(pixels), dim=-1)
            text = nn.functional.normalize(model.encode_text(tokens), dim=-1)
            same = (key_ids[batch, None] == key_ids[None, batch]).float().to(device)
            loss = info_nce(image, text, model.logit_scale, same / same.sum(1, keepdim=True))
            optim.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optim.step()
            total, batches = total + float(loss.detach()), batches + 1
        losses.append(total / max(1, batches))
        mrr = metrics(p_val, k_val)["MRR"]
        val_mrr.append(mrr)
        if on_epoch is not None:
            on_epoch(epoch, losses[-1], mrr)
        if mrr > best_mrr + 1e-9:
            best_mrr, best_epoch, waited = mrr, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= config.patience:
                break
    model.load_state_dict(best_state)
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    after = {"train": metrics(p_train, k_train), "validation": metrics(p_val, k_val)}
    return UnfreezeResult(
        before,
        after,
        best_epoch,
        len(losses),
        losses,
        val_mrr,
        len(train),
        len(val),
        {"backbone": sum(p.numel() for p in backbone), "heads": sum(p.numel() for p in heads)},
    )


def save_checkpoint(model: nn.Module, path: Path) -> Path:
    """The whole model's weights as a safetensors file OpenCLIP loads (PRETRAINED=<path>),
    written atomically."""
    from safetensors.torch import save

    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, save(state))
    return path
