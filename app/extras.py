"""Optional dependencies, by the extra that installs them (pyproject.toml's optional groups).

A server install (`pip install clippy`) carries the service and the embedded engine; SDXL,
Google's providers, spaCy's parser for prompt decomposition and the benchmark tools come with
extras. `require("diffusers")` imports a module or raises `MissingExtraError`, whose message is
one line naming the extra to install (a 503 problem on the API, one line from a command).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from app.errors import ClippyError

# Top-level import name -> the extra that installs it.
EXTRAS: dict[str, str] = {
    "diffusers": "sdxl",
    "accelerate": "sdxl",
    "google.genai": "google",
    "google.auth": "google",
    "spacy": "rag",
    "faiss": "bench",
    "matplotlib": "bench",
    "cairosvg": "bench",
}


class MissingExtraError(ClippyError, ImportError):
    """An optional package is not installed; the message names the extra that brings it."""

    status_code = 503
    code = "missing_extra"


def extra_for(module: str) -> str:
    for name in sorted(EXTRAS, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return EXTRAS[name]
    raise ValueError(f"`module` {module!r} is not an optional dependency. Known: {sorted(EXTRAS)}")


def missing_extra_message(module: str) -> str:
    extra = extra_for(module)
    return f"{module} is not installed: install Clippy's `{extra}` extra (pip install 'clippy[{extra}]', or `make install`)."


def require(module: str) -> ModuleType:
    """`module`, imported; `MissingExtraError` when it (or its package) is not installed."""
    extra_for(module)  # refuse names that are not optional dependencies at all
    try:
        return importlib.import_module(module)
    except ImportError as e:
        # Only the module itself missing means the extra is missing; a broken install inside
        # a present package keeps its own error.
        if e.name is None or not (module == e.name or module.startswith(e.name + ".")):
            raise
        raise MissingExtraError(missing_extra_message(module), module=module, extra=extra_for(module)) from None
