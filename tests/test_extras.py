"""Optional packages by extra: a server install without them starts and searches, and what
needs one answers with one line naming the extra."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.extras import EXTRAS, MissingExtraError, require

ROOT = Path(__file__).resolve().parents[1]


def test_require_names_the_extra_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "diffusers", None)  # what an absent package looks like to import
    with pytest.raises(MissingExtraError) as caught:
        require("diffusers")
    message = str(caught.value)
    assert "\n" not in message and "clippy[sdxl]" in message
    assert caught.value.status_code == 503 and isinstance(caught.value, ImportError)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_require_keeps_the_error_of_a_broken_dependency_inside_a_present_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "spacy", None)
    with pytest.raises(MissingExtraError):
        require("spacy")
    with pytest.raises(ValueError, match="not an optional dependency"):
        require("numpy")


# Run in a fresh interpreter so the blocked modules were never imported by earlier tests.
SERVER_WITHOUT_EXTRAS = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # importing it now fails as if it were not installed
from pathlib import Path
from fastapi.testclient import TestClient
from app.api.app import create_app
from app.embedding import load_encoders
from tests.support.settings import tiny_settings

settings = tiny_settings(Path({tmp!r}), RAG_SPACY_MODEL="")
with TestClient(create_app(settings, encoders=load_encoders(settings))) as client:
    assert client.get("/readyz").status_code == 200
    r = client.post("/search/hybrid", json={{"queryText": "circle", "limit": 2}})
    assert r.status_code == 200, r.text
    r = client.post("/search/decompose", json={{"prompt": "a fox and an owl"}})
    print("DECOMPOSE", r.status_code, r.json().get("code"), r.json().get("detail"))
blocked = [n for n in {blocked!r} if n in sys.modules and sys.modules[n] is not None]
assert not blocked, blocked
print("SERVED")
"""


def test_the_server_starts_and_searches_without_any_extra(tmp_path: Path) -> None:
    script = SERVER_WITHOUT_EXTRAS.format(blocked=sorted(EXTRAS), tmp=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )
    assert "SERVED" in out.stdout, out.stderr[-3000:]
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("DECOMPOSE")]
    assert line.startswith("DECOMPOSE 503 missing_extra") and "clippy[rag]" in line, line
