from __future__ import annotations

import torch

from app.config import DeviceName
from app.errors import InvalidInputError


def resolve_device(name: DeviceName) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError("DEVICE=cuda but no CUDA device is available; use DEVICE=auto or cpu.")
    return torch.device(name)
