"""`python -m app.jobs.worker`: help without a Redis, and one line (not a traceback) without REDIS_URL."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_command_prints_help_and_names_a_missing_redis_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    # cwd: an empty folder, so no .env supplies REDIS_URL.
    run = partial(subprocess.run, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    helped = run([sys.executable, "-m", "app.jobs.worker", "--help"])
    assert helped.returncode == 0, helped.stderr
    assert "REDIS_URL" in helped.stdout and "Traceback" not in helped.stderr
    refused = run([sys.executable, "-m", "app.jobs.worker"])
    assert refused.returncode == 2, refused.stderr
    assert "REDIS_URL is not set" in refused.stderr and "Traceback" not in refused.stderr
