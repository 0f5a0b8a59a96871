"""Can OpenCLIP weights be had without waiting on a network that is not there?"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

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


def hub_model_local(model: str, cache_dir: Path | None = None) -> bool:
    """Whether `model` (a folder, or a Hugging Face repo id) can load with no network at all.

    A repo counts when the cache holds a snapshot of its `main` revision. Not every file of
    the repo need be there: `clippy models pull` fetches only what the loaders read (no
    TensorFlow or ONNX copies, no README), which huggingface_hub's own offline snapshot
    check would call incomplete."""
    if Path(model).expanduser().is_dir():
        return True
    from huggingface_hub import constants
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.file_download import repo_folder_name

    try:
        folder = repo_folder_name(repo_id=model, repo_type="model")
    except HFValidationError:  # a missing path, or no repo id at all: nothing to load offline
        return False
    repo = Path(cache_dir or constants.HF_HUB_CACHE) / folder
    try:
        commit = (repo / "refs" / "main").read_text().strip()
    except OSError:
        return False
    snapshot = repo / "snapshots" / commit
    return snapshot.is_dir() and any(snapshot.iterdir())


def hub_load_kwargs(models: dict[str, str], cache_dir: Path | None) -> dict[str, Any]:
    """`from_pretrained` keywords for loading `models` (setting name → folder or repo id).

    All on disk: load with no network at all (`local_files_only`: no hub look-ups to retry).
    Something missing: fetch it only if the hub answers now; else refuse in seconds, naming
    the settings to change (huggingface_hub itself would retry for minutes)."""
    from app.errors import WeightsUnavailableError

    kwargs: dict[str, Any] = {"cache_dir": str(cache_dir)} if cache_dir else {}
    absent = {setting: m for setting, m in models.items() if not hub_model_local(m, cache_dir)}
    if not absent:
        kwargs["local_files_only"] = True
    elif why := hub_unreachable():
        named = ", ".join(f"{setting}={m!r}" for setting, m in absent.items())
        raise WeightsUnavailableError(
            f"{named} not on disk and cannot be downloaded: {why}. Put it in the Hugging Face cache "
            f"(MODEL_CACHE_DIR), point {' / '.join(absent)} at a local folder, or run `clippy models pull`.",
            model=next(iter(models.values())),
        )
    return kwargs


def hub_unreachable(timeout: float = 2.0) -> str | None:
    """Why nothing can be downloaded from the Hub now (offline mode, no connection), or None.

    huggingface_hub retries a hub it cannot reach for minutes; a caller that knows the weights
    are not local asks this first and fails in seconds instead."""
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    url = urlsplit(constants.ENDPOINT)
    host, port = url.hostname or HUB_HOST, url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as e:
        return f"{host}:{port} cannot be reached ({e})"
