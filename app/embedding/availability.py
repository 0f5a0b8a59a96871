"""Can OpenCLIP weights be had without waiting on a network that is not there?"""

from __future__ import annotations

import socket
from pathlib import Path

import open_clip

HUB_HOST = "huggingface.co"


def _cached(model: str, tag: str) -> bool:
    cfg = open_clip.get_pretrained_cfg(model, tag)
    repo = cfg.get("hf_hub", "").rstrip("/")
    if not repo:
        return False
    from huggingface_hub import try_to_load_from_cache

    for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        if isinstance(try_to_load_from_cache(repo, filename), str):
            return True
    return False


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def weights_available(model: str, pretrained: str) -> tuple[bool, str]:
    """(True, "") when loading will find weights; otherwise (False, why)."""
    if pretrained.lower() == "random" or Path(pretrained).is_file():
        return True, ""
    if pretrained not in open_clip.list_pretrained_tags_by_model(model):
        return False, f"{pretrained!r} is neither a file nor a known tag for {model!r}"
    if _cached(model, pretrained):
        return True, ""
    if _hub_reachable():
        return True, ""
    return False, f"not in the local cache and {HUB_HOST} cannot be reached"
