"""Copying a server-side folder in: scanned without following links, each file copied into
the library's content folder so it is served from IMAGES_ROOT like every other library image."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

from app.errors import ClippyError
from app.ingest.sources import Item, scan_folder
from app.jobs import JobContext
from app.library.imports.staging import ContentFolder


async def copy_folder(
    source: Path, folder: ContentFolder, tags: list[str], ctx: JobContext, created: list[Path]
) -> tuple[list[Item], list[dict[str, str]]]:
    """The items copied in from `source` and the files refused, each with its reason. Files
    this call wrote (not found already there) are appended to `created` as they are written,
    so a cancelled copy still knows what to clean up."""
    refused: list[tuple[Path, str]] = []
    found = await asyncio.to_thread(lambda: list(scan_folder(source, lambda p, why: refused.append((p, why)))))
    failures = [{"path": str(p), "reason": why} for p, why in refused]
    items: list[Item] = []
    for i in found:
        ctx.check_cancelled()
        try:
            saved, new = await asyncio.to_thread(folder.copy_in, i.path)
        except ClippyError as e:
            failures.append({"path": str(i.path), "reason": e.message})
            continue
        except OSError as e:
            why = "a symbolic link (links are not followed)" if e.errno == errno.ELOOP else e.strerror
            failures.append({"path": str(i.path), "reason": f"unreadable: {why or e}"})
            continue
        if new:
            created.append(saved)
        items.append(Item(saved, [*i.tags, *tags], {"title": i.path.name, "origin": str(i.path)}))
    return items, failures
