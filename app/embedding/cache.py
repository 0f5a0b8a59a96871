"""A disk cache of picture and edge-map vectors keyed by (file content, embedding space).

Re-importing a file into another library, or rebuilding a collection, finds its vectors
here instead of running the model again. The key's space part covers everything that
changes the vectors (model, pretrained tag, edge-map parameters), so a new model or edge
version simply misses. The vectors are the frozen towers' raw output: a trained adapter
(setting ADAPTER) is applied after the cache, so it is left out of the key on purpose —
re-ingesting a library through a new adapter finds every vector here and runs no model.
SQLite (stdlib) in WAL mode: safe for one writer and many readers.

`shape` descriptors (app/embedding/shape.py) sit in their own table under their own key
(edge parameters + shape version): a new shape version misses only there, so rebuilding a
collection for it still skips the model for every file seen before.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    sha256 TEXT NOT NULL,
    space TEXT NOT NULL,
    image BLOB NOT NULL,
    edge BLOB NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    PRIMARY KEY (sha256, space)
);
CREATE TABLE IF NOT EXISTS shapes (
    sha256 TEXT NOT NULL,
    space TEXT NOT NULL,
    shape BLOB NOT NULL,
    PRIMARY KEY (sha256, space)
)
"""


def space_key(space: dict[str, Any]) -> str:
    """What makes picture/edge vectors comparable: model, weights (and their seed when random),
    edge parameters (not the adapter: the cache holds the towers' raw vectors, projected after it)."""
    relevant = {k: space.get(k) for k in ("model", "pretrained", "image_dim", "edge")}
    if space.get("seed") is not None:
        # Random weights: the seed decides them. Only then, so that caches of real weights
        # keep their keys (and an unseeded random cache of old no longer matches).
        relevant["seed"] = space["seed"]
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def shape_space_key(space: dict[str, Any]) -> str:
    """What makes `shape` descriptors comparable: the edge map they describe, and the descriptor."""
    relevant = {k: space.get(k) for k in ("edge", "shape")}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


class CachedVectors:
    __slots__ = ("edge", "height", "image", "shape", "width")

    def __init__(
        self, image: np.ndarray, edge: np.ndarray, width: int, height: int, shape: np.ndarray | None = None
    ) -> None:
        self.image, self.edge, self.width, self.height = image, edge, width, height
        self.shape = shape  # None: not cached for this shape version


class EmbeddingCache:
    def __init__(self, path: Path, space: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.space = space_key(space)
        self.shape_space = shape_space_key(space)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def get_many(self, shas: Sequence[str]) -> dict[str, CachedVectors]:
        if not shas:
            return {}
        marks = ",".join("?" * len(shas))
        with self._lock:
            rows = self._db.execute(
                "SELECT v.sha256, v.image, v.edge, v.width, v.height, s.shape FROM vectors v "
                "LEFT JOIN shapes s ON s.sha256 = v.sha256 AND s.space = ? "
                f"WHERE v.space = ? AND v.sha256 IN ({marks})",
                [self.shape_space, self.space, *shas],
            ).fetchall()
        return {
            sha: CachedVectors(
                np.frombuffer(img, np.float32),
                np.frombuffer(edge, np.float32),
                w,
                h,
                None if shape is None else np.frombuffer(shape, np.float32),
            )
            for sha, img, edge, w, h, shape in rows
        }

    def put_many(self, rows: Iterable[tuple[str, np.ndarray, np.ndarray, int, int]]) -> None:
        values = [
            (sha, self.space, np.asarray(img, np.float32).tobytes(), np.asarray(edge, np.float32).tobytes(), w, h)
            for sha, img, edge, w, h in rows
        ]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?, ?)", values)

    def put_shapes(self, rows: Iterable[tuple[str, np.ndarray]]) -> None:
        values = [(sha, self.shape_space, np.asarray(shape, np.float32).tobytes()) for sha, shape in rows]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO shapes VALUES (?, ?, ?)", values)

    def close(self) -> None:
        with self._lock:
            self._db.close()
