"""AUTO_INGEST of a bare folder: IMAGES_ROOT without a manifest.jsonl is scanned at start and
ingested in the background (sub-folder names become tags), with progress for /info.

The service owns the task (`start` / `stop`). Stopping it is safe at any point and leaves
nothing behind: the pipeline writes whole points only, with ids from file content, and copies
no files (the payload paths are relative to IMAGES_ROOT), so the next start skips what is
stored and ingests the rest. A scan that reached the end records the folder's listing (paths,
sizes, modification times) in the library registry; while the listing is unchanged later
starts leave the library alone, so an image deleted from it stays deleted, as with a manifest.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.ingest.sources import Item, scan_folder
from app.ingest.target import IngestTarget
from app.library.registry import LibraryRegistry

log = logging.getLogger(__name__)

# The server's own copies under IMAGES_ROOT: imports (app/library/imports/staging.py) and
# generated images added to a library (app/library/generated.py). They are points of their
# own libraries already; a scan would file them again in the default one.
SERVER_FOLDERS = ("imports", "generated")

ScanStatus = Literal["scanning", "done", "unchanged", "stopped", "failed"]


@dataclass
class ScanProgress:
    status: ScanStatus = "scanning"
    found: int = 0
    done: int = 0
    failed: int = 0
    error: str | None = None


def listing_digest(root: Path, items: list[Item]) -> str:
    """What the folder holds, cheaply: each image's relative path, size and mtime."""
    h = hashlib.sha256(b"folder-scan:v1\n")
    for item in items:
        stat = item.path.stat()
        h.update(f"{item.path.relative_to(root).as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


class FolderScan:
    def __init__(self, target: IngestTarget, registry: LibraryRegistry) -> None:
        self.target = target
        self.registry = registry
        self.progress: ScanProgress | None = None  # None: no scan this run
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Scan and ingest in a worker thread; returns at once."""
        if self.running:
            return
        self._stop.clear()
        self.progress = ScanProgress()
        self._task = asyncio.create_task(asyncio.to_thread(self.run), name="auto-ingest-scan")

    async def stop(self) -> None:
        """Ask the scan to stop after its current chunk and wait for it."""
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def run(self) -> None:
        progress = self.progress = self.progress or ScanProgress()
        root = Path(self.target.settings.IMAGES_ROOT).resolve()
        try:
            items = [i for i in scan_folder(root) if i.path.relative_to(root).parts[0] not in SERVER_FOLDERS]
            progress.found = len(items)
            opts = self.target.options(should_stop=self._stop.is_set)
            digest = listing_digest(root, items)
            if self.registry.was_seeded(opts.library, digest):
                log.info(
                    "AUTO_INGEST: %s is unchanged since its last scan; library %r left as it is", root, opts.library
                )
                progress.done, progress.status = len(items), "unchanged"
                return
            log.info(
                "AUTO_INGEST: scanning %s into library %r (%d images, no manifest.jsonl)…",
                root,
                opts.library,
                len(items),
            )

            def advance(n: int) -> None:
                progress.done += n

            report = self.target.ingestor(opts).run(items, progress=advance)
            progress.failed = len(report.failures)
            for f in report.failures:
                log.warning("AUTO_INGEST failed: %s: %s", f.path, f.reason)
            if self._stop.is_set():
                progress.status = "stopped"
                log.info(
                    "AUTO_INGEST: scan of %s stopped (%d of %d); the next start resumes",
                    root,
                    progress.done,
                    len(items),
                )
                return
            self.registry.mark_seeded(opts.library, digest)
            progress.status = "done"
            log.info("AUTO_INGEST: %s", report.summary())
        except Exception as e:  # a failed scan is reported, never takes the server down
            log.exception("AUTO_INGEST: scanning %s failed", root)
            progress.status, progress.error = "failed", str(e)
