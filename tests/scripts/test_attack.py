"""The attack battery (scripts/attack.py) against a live tiny instance it starts itself: every
case of issue 18 and its classes holds (pending cases of another branch are skipped)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import attack


@pytest.mark.attack
@pytest.mark.timeout(300)
def test_the_attack_battery_passes_against_a_live_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "attack.json"
    status = attack.main(["--out", str(out)])
    report = json.loads(out.read_text())
    failed = [r for r in report["results"] if r["verdict"] == "FAIL"]
    assert status == 0 and not failed, json.dumps(failed, indent=1)
    assert report["counts"]["PASS"] >= 50
    categories = {r["category"] for r in report["results"] if r["verdict"] == "PASS"}
    assert {
        "traversal",
        "ssrf",
        "zip-bomb",
        "zip-slip",
        "cross-tenant",
        "idempotency",
        "oversize",
        "xff",
        "contract",
        "decode",
    } <= categories
    assert "| category" in capsys.readouterr().out, "the table is printed"
