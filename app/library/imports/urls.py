"""Fetching URLs in: each through the checked, bounded fetcher; one bad URL never stops the import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

from app.config import Settings
from app.ingest.sources import Item
from app.jobs import JobContext
from app.library.imports.staging import ContentFolder


async def fetch_urls(
    urls: list[str],
    folder: ContentFolder,
    tags: list[str],
    settings: Settings,
    ctx: JobContext,
    created: list[Path],
    report: Callable[[int], None],
) -> tuple[list[Item], list[dict[str, str]]]:
    """The items fetched and the URLs that failed, each with its reason; `report(n)` after the
    n-th URL. Files this call wrote are appended to `created` as they are written."""
    from app.net.fetch import fetch_url

    items: list[Item] = []
    failures: list[dict[str, str]] = []
    for n, url in enumerate(urls, start=1):
        ctx.check_cancelled()
        try:
            data = await fetch_url(
                url,
                max_bytes=settings.MAX_UPLOAD_BYTES,
                timeout_s=settings.FETCH_TIMEOUT_S,
                allow_private=settings.FETCH_ALLOW_PRIVATE,
            )
            saved, new = folder.save(data, PurePosixPath(url.split("?")[0]).name or "download")
            if new:
                created.append(saved)
            items.append(Item(saved, list(tags), {"url": url}))
        except Exception as e:  # one bad URL never stops the import
            failures.append({"path": url, "reason": getattr(e, "message", None) or str(e)})
        report(n)
    return items, failures
