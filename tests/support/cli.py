"""Running the entry points as a user does: a child Python from the checkout's root, on the
tiny model and an embedded store under the test's folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.settings import TINY_MODEL

ROOT = Path(__file__).resolve().parents[2]


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        **TINY_MODEL,
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "COLLECTION": "cli",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }


def run_python(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
