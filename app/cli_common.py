"""Pieces the command-line entry points share: settings from flags, logging, progress."""

from __future__ import annotations

import logging
import os
from typing import Any

from app.config import Settings


def settings_from_flags(**flags: Any) -> Settings:
    """Settings from the environment and .env, with the flags that were given on top."""
    given = {k: v for k, v in flags.items() if v is not None}
    return Settings(**given)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The tokenizers' own thread pool fights our worker threads for two cores.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
