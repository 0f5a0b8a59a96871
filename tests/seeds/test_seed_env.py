"""The seed's `.env` names (shared/seeds 002, "Configure environment"): read as Clippy's
settings where one means the same, and named in the log as deprecated either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings


def test_the_seed_collection_name_is_read_as_collection_with_a_deprecation_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "QDRANT_URL=http://localhost:6333\nQDRANT_COLLECTION=safebooru_union_clip\n"
        "DEVICE=cuda            # or cpu\nPRECISION=fp32\nPROMPT_LOG_LEVEL=DEBUG\nGEMINI_VISION_MODEL=gemini-2.5-flash\n"
    )
    with caplog.at_level("WARNING", logger="app.config"):
        settings = Settings()
    assert settings.COLLECTION == "safebooru_union_clip"
    assert settings.QDRANT_URL == "http://localhost:6333" and settings.DEVICE == "cuda"
    assert settings.LOG_LEVEL == "INFO", "the prompt logger's level is not every logger's"
    lines = caplog.text
    assert "QDRANT_COLLECTION is deprecated" in lines and "COLLECTION" in lines
    for ignored in ("PRECISION", "PROMPT_LOG_LEVEL", "GEMINI_VISION_MODEL"):
        assert f"{ignored} is deprecated (the seed's name) and ignored" in lines


def test_clippys_own_name_wins_over_the_seed_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QDRANT_COLLECTION", "old")
    monkeypatch.setenv("COLLECTION", "new")
    assert Settings().COLLECTION == "new"
    assert Settings(COLLECTION="given").COLLECTION == "given"
