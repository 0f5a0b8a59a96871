"""`.env.example` and docs/configuration.md list every setting and are current."""

from __future__ import annotations

import re
from pathlib import Path

import settings_reference
from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_is_generated_from_settings_and_names_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    assert text == settings_reference.render_env(settings_reference.entries()), (
        ".env.example is stale: python scripts/settings_reference.py env > .env.example"
    )
    listed = set(re.findall(r"^# ([A-Z0-9_]+)=", text, flags=re.M))
    assert set(Settings.model_fields) <= listed


def test_configuration_page_is_current() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert page == settings_reference.render_markdown(settings_reference.entries()), (
        "docs/configuration.md is stale: python scripts/settings_reference.py markdown > docs/configuration.md"
    )
    for name in Settings.model_fields:
        assert f"| `{name}` |" in page


def test_descriptions_come_from_the_comments_above_a_field() -> None:
    by_name = {e.name: e for e in settings_reference.entries()}
    assert by_name["EMBED_CACHE_PATH"].description.startswith("Picture/edge vectors by file content")
    assert by_name["EMBED_CACHE_PATH"].section == "storage (app/storage)"
    assert by_name["SDXL_VARIANT"].description.endswith("half-precision files")  # an end-of-line comment
    assert by_name["GENERATION_PROVIDER"].type == '"sdxl" | "imagen" | "gemini"'
    assert by_name["CLIENT_DIST"].default == "client/dist (in the checkout)"


def test_every_setting_has_a_description() -> None:
    """A new setting needs a comment in app/config.py: the manual and .env.example show it."""
    missing = [e.name for e in settings_reference.entries() if not e.description]
    assert not missing, f"settings without a comment in app/config.py: {missing}"


def test_a_run_comment_describes_the_fields_it_names() -> None:
    by_name = {e.name: e for e in settings_reference.entries()}
    assert "MIN_POOL" in by_name["MIN_POOL"].description  # the comment above CANDIDATE_FACTOR names it
