"""Library records: name, owner, visibility, kept durably in a small SQLite file.

Why SQLite next to the store (`QDRANT_PATH/<COLLECTION>.libraries.sqlite`, or
LIBRARIES_DB) rather than the collection's metadata: the two store backends keep metadata
differently (a JSON sidecar for qdrant-edge, collection metadata on a server) and both
only replace it whole, so two concurrent creates would race and one would be lost.
SQLite gives a primary key (a name is taken once, atomically) and transactions across
processes on one host for free, and it is read once per request by an owner key, which
is cheap. The points themselves stay the truth about what a library holds: the record
only says who owns it and who may read it. With several API hosts sharing one Qdrant
server, point LIBRARIES_DB at storage they share.

The default library (DEFAULT_LIBRARY) is never stored: it always exists, belongs to the
operators and is public-read, so a deployment without keys or records behaves as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from app.config import Settings
from app.errors import ConflictError, InvalidInputError
from app.library.access import LibraryGrant, Visibility
from app.library.imports import check_library

VISIBILITIES: tuple[Visibility, ...] = ("private", "public")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS libraries (
    name TEXT PRIMARY KEY,
    owner TEXT,
    visibility TEXT NOT NULL CHECK (visibility IN ('private', 'public')),
    created_at TEXT NOT NULL
);
-- Manifests (by content digest) AUTO_INGEST has seeded a library from, to the end.
CREATE TABLE IF NOT EXISTS seeded (
    library TEXT NOT NULL,
    digest TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (library, digest)
);
"""


@dataclass(frozen=True)
class LibraryRecord(LibraryGrant):
    created_at: str | None = None  # None for the implicit default library


def registry_path(settings: Settings) -> Path:
    if settings.LIBRARIES_DB is not None:
        return Path(settings.LIBRARIES_DB)
    return Path(settings.QDRANT_PATH) / f"{settings.COLLECTION}.libraries.sqlite"


class LibraryRegistry:
    def __init__(self, path: Path, default_library: str) -> None:
        self.path = Path(path)
        self.default_library = default_library
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def from_settings(cls, settings: Settings) -> LibraryRegistry:
        return cls(registry_path(settings), settings.DEFAULT_LIBRARY)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # One short connection per call: requests run in a thread pool, and a connection per
        # call needs no lock of ours (SQLite serialises writers itself).
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:  # a transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

    @property
    def default(self) -> LibraryRecord:
        return LibraryRecord(self.default_library, None, "public")

    @staticmethod
    def _record(row: tuple[str, str | None, str, str]) -> LibraryRecord:
        return LibraryRecord(row[0], row[1], cast(Visibility, row[2]), row[3])

    def get(self, name: str) -> LibraryRecord | None:
        if name == self.default_library:
            return self.default
        with self._db() as db:
            row = db.execute(
                "SELECT name, owner, visibility, created_at FROM libraries WHERE name = ?", (name,)
            ).fetchone()
        return self._record(row) if row else None

    def all(self) -> list[LibraryRecord]:
        """Every library, the default one first, then by name."""
        with self._db() as db:
            rows = db.execute("SELECT name, owner, visibility, created_at FROM libraries ORDER BY name").fetchall()
        return [self.default, *(self._record(r) for r in rows)]

    def visible_to(self, owner: str) -> list[LibraryRecord]:
        """What an owner may read: its own libraries, every public one, and the default."""
        with self._db() as db:
            rows = db.execute(
                "SELECT name, owner, visibility, created_at FROM libraries "
                "WHERE owner = ? OR visibility = 'public' ORDER BY name",
                (owner,),
            ).fetchall()
        return [self.default, *(self._record(r) for r in rows)]

    def create(self, name: str, owner: str | None, visibility: Visibility) -> LibraryRecord:
        check_library(name)
        if visibility not in VISIBILITIES:
            raise InvalidInputError(f"`visibility` must be one of {list(VISIBILITIES)}, not {visibility!r}.")
        if name == self.default_library:
            raise ConflictError(f"library {name!r} is the default library (DEFAULT_LIBRARY); it always exists.")
        created = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO libraries (name, owner, visibility, created_at) VALUES (?, ?, ?, ?)",
                    (name, owner, visibility, created),
                )
        except sqlite3.IntegrityError as e:
            raise ConflictError(f"library {name!r} already exists; pick another name.", library=name) from e
        return LibraryRecord(name, owner, visibility, created)

    def delete(self, name: str) -> bool:
        with self._db() as db:
            db.execute("DELETE FROM seeded WHERE library = ?", (name,))
            return db.execute("DELETE FROM libraries WHERE name = ?", (name,)).rowcount > 0

    # --- the demo's sample library (AUTO_INGEST) ---------------------------------------------
    def was_seeded(self, library: str, digest: str) -> bool:
        with self._db() as db:
            row = db.execute("SELECT 1 FROM seeded WHERE library = ? AND digest = ?", (library, digest)).fetchone()
        return row is not None

    def mark_seeded(self, library: str, digest: str) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO seeded (library, digest, at) VALUES (?, ?, ?)", (library, digest, at))
