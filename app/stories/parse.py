"""A model's answer → a `Story`, robustly.

Models asked for JSON answer JSON, JSON inside a ```json fence, JSON with prose around it,
"Title: …" lines, or just prose. Each is read for what it holds; whatever is missing stays
empty, and plain prose becomes paragraphs (the first short line may be the title). Every
field is bounded (app/stories/models.py), so a runaway answer cannot grow a story.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.stories.models import MAX_PARAGRAPH_CHARS, MAX_PARAGRAPHS, MAX_SUBJECTS, Story

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"^\s*(title|subjects?|characters?|setting)\s*:\s*(.*)$", re.IGNORECASE)
_TITLE_MAX = 120


def _clip(text: str, n: int) -> str:
    return " ".join(text.split())[:n]


def _strings(value: Any, limit: int, size: int) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"[,;\n]", value)
    if not isinstance(value, list):
        return []
    out = [_clip(str(v), size) for v in value if isinstance(v, str | int | float) and str(v).strip()]
    return out[:limit]


def _json_object(text: str) -> dict[str, Any] | None:
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _from_json(obj: dict[str, Any]) -> Story:
    lower = {str(k).lower(): v for k, v in obj.items()}
    paragraphs = lower.get("paragraphs", lower.get("story", lower.get("text", [])))
    if isinstance(paragraphs, str):
        paragraphs = [p for p in re.split(r"\n\s*\n", paragraphs) if p.strip()]
    return Story(
        title=_clip(str(lower.get("title") or ""), 200),
        paragraphs=_strings(paragraphs, MAX_PARAGRAPHS, MAX_PARAGRAPH_CHARS),
        subjects=_strings(lower.get("subjects", lower.get("characters", [])), MAX_SUBJECTS, 100),
        setting=_clip(str(lower.get("setting") or ""), 500),
    )


def _from_text(text: str) -> Story:
    title, setting = "", ""
    subjects: list[str] = []
    body: list[str] = []
    for line in text.splitlines():
        if m := _LABEL.match(line):
            key, value = m.group(1).lower(), m.group(2).strip()
            if key == "title":
                title = value.strip("\"'*# ")
            elif key == "setting":
                setting = value
            else:
                subjects = _strings(value, MAX_SUBJECTS, 100)
        else:
            body.append(line)
    paragraphs = [_clip(p, MAX_PARAGRAPH_CHARS) for p in re.split(r"\n\s*\n", "\n".join(body)) if p.strip()]
    if not title and len(paragraphs) > 1 and len(paragraphs[0]) <= _TITLE_MAX:
        # Prose whose first block is short reads as "Title\n\nStory…".
        title = paragraphs.pop(0).strip("\"'*# ")
    return Story(
        title=_clip(title, 200),
        paragraphs=paragraphs[:MAX_PARAGRAPHS],
        subjects=subjects,
        setting=_clip(setting, 500),
    )


def parse_story(text: str) -> Story:
    """The story in a model's answer (never raises: an empty answer is an empty story)."""
    obj = _json_object(text)
    story = _from_json(obj) if obj is not None else _from_text(text)
    if not story.paragraphs and obj is not None:
        # JSON without a story in it: keep the prose around it, if any.
        rest = _FENCE.sub("", text)
        rest = rest[: rest.find("{")] if "{" in rest else rest
        story = story.model_copy(update={"paragraphs": _from_text(rest).paragraphs})
    return story
