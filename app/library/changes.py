"""A counter of library changes a point count would miss (an item trashed and another
imported leave the count as it was). Near-duplicate scans record it when they start and a
report is stale once it moved (app/library/dedup_scans.py). In-process: a change made by
another process (a worker writing a Qdrant server) shows only through the count."""

from __future__ import annotations

import threading


class LibraryChanges:
    def __init__(self) -> None:
        self._version = 0
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        return self._version

    def bump(self) -> None:
        with self._lock:
            self._version += 1
