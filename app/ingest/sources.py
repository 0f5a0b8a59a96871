"""Where items to ingest come from: a manifest (JSONL or CSV of path + tags) or a folder."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import InvalidInputError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
# Manifest keys copied into the payload as they are (besides path and tags).
PASSTHROUGH_KEYS = ("title", "caption", "source", "license", "origin", "url", "creator")


@dataclass
class Item:
    path: Path  # absolute
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        # Booru-style "tag_a tag_b" or "a, b"
        sep = "," if "," in value else None
        return [t.strip() for t in value.split(sep) if t.strip()]
    if isinstance(value, list):
        return [str(t).strip() for t in value if str(t).strip()]
    raise InvalidInputError(f"`tags` must be a list or a string, got {type(value).__name__}")


def _item(row: dict[str, Any], base: Path, where: str) -> Item:
    raw = row.get("path") or row.get("file") or row.get("filename")
    if not raw:
        raise InvalidInputError(f"{where}: no `path`")
    path = Path(str(raw)).expanduser()
    if not path.is_absolute():
        path = base / path
    extra = {k: row[k] for k in PASSTHROUGH_KEYS if row.get(k) not in (None, "")}
    return Item(path=path.resolve(), tags=_tags(row.get("tags")), extra=extra)


def read_manifest(manifest: Path, base: Path | None = None) -> Iterator[Item]:
    """Items of a JSONL or CSV manifest. Relative paths resolve against `base`, else the
    manifest's folder. A malformed line is an error naming the line: fix the manifest."""
    base = base or manifest.parent
    if manifest.suffix.lower() == ".csv":
        with manifest.open(newline="", encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                yield _item(row, base, f"{manifest}:{n}")
        return
    with manifest.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InvalidInputError(f"{manifest}:{n}: not JSON: {e}") from e
            if not isinstance(row, dict):
                raise InvalidInputError(f"{manifest}:{n}: expected an object with `path` and `tags`")
            yield _item(row, base, f"{manifest}:{n}")


def scan_folder(folder: Path) -> Iterator[Item]:
    """Every image file below `folder`, sorted; the sub-folder names become tags."""
    folder = folder.resolve()
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            parts = path.relative_to(folder).parts[:-1]
            yield Item(path=path, tags=[p for p in parts if p])
