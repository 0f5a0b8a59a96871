"""Where items to ingest come from: a manifest (JSONL or CSV of path + tags) or a folder."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import InvalidInputError

log = logging.getLogger(__name__)
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


def scan_folder(folder: Path, on_refused: Callable[[Path, str], None] | None = None) -> Iterator[Item]:
    """Every image file below `folder`, sorted; the sub-folder names become tags.

    Symbolic links are never followed: a link can point at any file the process may read,
    and what a scan finds is copied into (or served from) the library. Each link, and any
    file whose resolved path leaves `folder`, goes to `on_refused` with the reason (logged
    when no callback is given) instead of being yielded."""
    folder = folder.resolve()

    def refuse(path: Path, reason: str) -> None:
        if on_refused is None:
            log.warning("not ingested: %s: %s", path, reason)
        else:
            on_refused(path, reason)

    found: list[Path] = []
    # os.walk with followlinks=False lists a linked folder but never descends into it.
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                refuse(here / name, "a symbolic link to a folder (links are not followed)")
        for name in sorted(filenames):
            path = here / name
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if path.is_symlink():
                refuse(path, "a symbolic link (links are not followed)")
            elif not path.resolve().is_relative_to(folder):
                refuse(path, f"resolves outside the folder {folder}")
            elif path.is_file():
                found.append(path)
    for path in sorted(found):
        parts = path.relative_to(folder).parts[:-1]
        yield Item(path=path, tags=[p for p in parts if p])
