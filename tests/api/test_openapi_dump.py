"""The OpenAPI document the client's types are generated from (app/api/openapi_dump.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.api import openapi_dump
from app.api.app import create_app
from tests.support.settings import tiny_settings


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_dump.openapi_document()


def test_the_document_is_what_a_keyed_rate_limited_deployment_serves(
    document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    served = create_app(
        tiny_settings(tmp_path_factory.mktemp("served"), API_KEYS="s" * 16 + ":admin", RATE_LIMIT="10/second")
    ).openapi()
    assert document == served
    # The statuses and the scheme that only show with keys and limits are there.
    info = document["paths"]["/info"]["get"]
    assert {"401", "429"} <= set(info["responses"])
    assert "403" in document["paths"]["/libraries"]["post"]["responses"]
    assert "APIKeyHeader" in document["components"]["securitySchemes"]


def test_the_document_ignores_the_environment_and_dotenv(
    document: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A served app follows these (no keys, no limits, no /metrics); the dump must not.
    monkeypatch.delenv("API_KEYS", raising=False)
    monkeypatch.setenv("RATE_LIMIT", "")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("API_KEYS=\nMETRICS_ENABLED=false\n", encoding="utf-8")
    assert openapi_dump.openapi_document() == document


def test_the_text_is_stable_sorted_and_round_trips(document: dict[str, Any]) -> None:
    text = openapi_dump.render(document)
    assert text == openapi_dump.render(openapi_dump.openapi_document())
    assert text.endswith("}\n")
    assert json.loads(text) == document
    keys = list(json.loads(text)["components"]["schemas"])
    assert keys == sorted(keys)
    # Insertion order does not leak: the same document built in another order renders the same.
    assert openapi_dump.render(dict(reversed(list(document.items())))) == text


def test_main_writes_the_file_or_stdout(
    document: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nested" / "openapi.json"
    assert openapi_dump.main([str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == document
    assert openapi_dump.main(["-"]) == 0
    assert capsys.readouterr().out == out.read_text(encoding="utf-8")
    assert openapi_dump.main([]) == 2
    assert "usage:" in capsys.readouterr().err
