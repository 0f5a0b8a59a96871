"""The import job's result: counts, failures and near duplicates, each item named as the caller
knows it (upload name, URL, source file), never by where this server stores it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.ingest.pipeline import IngestReport
from app.ingest.sources import Item
from app.library.imports.captions import CaptionReport


def import_result(
    library: str,
    total: int,
    items: list[Item],
    report: IngestReport,
    failures: list[dict[str, str]],
    captions: CaptionReport | None = None,
) -> dict[str, Any]:
    """`failures` are those found before ingesting (skipped ZIP entries, unreadable files, bad
    URLs); the pipeline's own failures are added after them."""
    known_as = {str(i.path): i.extra.get("url") or i.extra.get("origin") or i.extra.get("title") for i in items}

    def shown(path: str) -> str:
        return str(known_as.get(path) or Path(path).name)

    failed = failures + [{"path": shown(f.path), "reason": f.reason} for f in report.failures]
    # Captioned items that got no point (a failure, a near duplicate skipped) do not count.
    captioned = len(captions.ids & set(report.ids)) if captions is not None else 0
    return {
        "library": library,
        "total": total,
        "ingested": report.ingested,
        "skipped": report.skipped,
        "failed": failed,
        "ids": report.ids,
        "captioned": captioned,
        "notes": captions.notes if captions is not None else [],
        "nearDuplicates": [
            {"path": shown(d.path), "duplicateOf": d.duplicate_of, "score": d.score} for d in report.near_duplicates
        ],
    }
