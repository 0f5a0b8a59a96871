"""Personalisation: feedback on hits builds each key owner's tag affinities.

`POST /feedback {imageId, action}` records one event (click, save or dismiss) with the
image's tags and library; a profile is the events' tag weights, each decayed by its age
(half-life PROFILE_HALF_LIFE_DAYS), so old taste fades. Events are kept, not a running sum,
so that deleting a library or an image removes exactly what it contributed (`forget_*`).

The search side is `profile_boost` (a pure function): with `personalize: true` a hit gains
at most PROFILE_MAX_BOOST for tags its owner saved (and loses as much for dismissed ones),
shown as the `profile` term of its per-view scores. SQLite beside the library registry.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from app.config import Settings
from app.search.models import SearchResult, ViewScore

Action = Literal["click", "save", "dismiss"]
# How much one event says about taste: a save is a deliberate keep, a click a glance,
# a dismiss a "not this".
ACTION_WEIGHTS: dict[str, float] = {"click": 1.0, "save": 3.0, "dismiss": -2.0}
# The profile of an operator key (no owner): one shared profile, as without API keys.
OPERATOR_PROFILE = "*operator*"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    owner TEXT NOT NULL,
    image_id TEXT NOT NULL,
    library TEXT,
    action TEXT NOT NULL,
    tags TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_owner ON feedback (owner);
CREATE INDEX IF NOT EXISTS feedback_image ON feedback (image_id);
CREATE INDEX IF NOT EXISTS feedback_library ON feedback (library);
"""


def profiles_path(settings: Settings) -> Path:
    """Beside the library registry (app/library/registry.py)."""
    if settings.PROFILES_DB is not None:
        return Path(settings.PROFILES_DB)
    return Path(settings.QDRANT_PATH) / f"{settings.COLLECTION}.profiles.sqlite"


def decayed(weight: float, age_s: float, half_life_s: float) -> float:
    return float(weight * 0.5 ** (max(0.0, age_s) / half_life_s))


def profile_boost(tags: Sequence[str], affinities: Mapping[str, float], max_boost: float) -> tuple[float, float]:
    """(affinity, boost) of a hit with `tags`: the mean affinity of its tags, and a score term
    that grows with it and never leaves [-max_boost, max_boost]."""
    if max_boost < 0:
        raise ValueError(f"`max_boost` must be 0 or more but is {max_boost}")
    if not tags:
        return 0.0, 0.0
    affinity = sum(affinities.get(t, 0.0) for t in tags) / len(tags)
    return affinity, max_boost * math.tanh(affinity)


class ProfileStore:
    def __init__(self, path: Path, half_life_days: float) -> None:
        if half_life_days <= 0:
            raise ValueError(f"`half_life_days` must be positive but is {half_life_days}")
        self.path = Path(path)
        self.half_life_s = half_life_days * 86400
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProfileStore:
        return cls(profiles_path(settings), settings.PROFILE_HALF_LIFE_DAYS)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # As the registry: one short connection per call (requests run in a thread pool).
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    @staticmethod
    def key(owner: str | None) -> str:
        return owner if owner is not None else OPERATOR_PROFILE

    def record(
        self,
        owner: str | None,
        image_id: str,
        library: str | None,
        action: Action,
        tags: Sequence[str],
        at: float | None = None,
    ) -> None:
        if action not in ACTION_WEIGHTS:
            raise ValueError(f"`action` must be one of {sorted(ACTION_WEIGHTS)} but is {action!r}")
        with self._db() as db:
            db.execute(
                "INSERT INTO feedback (owner, image_id, library, action, tags, at) VALUES (?, ?, ?, ?, ?, ?)",
                (self.key(owner), image_id, library, action, json.dumps(sorted(set(tags))), at or time.time()),
            )

    def affinities(self, owner: str | None, now: float | None = None) -> dict[str, float]:
        """Tag → decayed sum of the owner's event weights (positive: liked, negative: dismissed)."""
        now = now or time.time()
        with self._db() as db:
            rows = db.execute("SELECT action, tags, at FROM feedback WHERE owner = ?", (self.key(owner),)).fetchall()
        out: dict[str, float] = {}
        for action, tags, at in rows:
            weight = decayed(ACTION_WEIGHTS[action], now - at, self.half_life_s)
            for tag in json.loads(tags):
                out[tag] = out.get(tag, 0.0) + weight
        return {t: round(w, 6) for t, w in out.items() if abs(w) > 1e-9}

    def events(self, owner: str | None) -> int:
        with self._db() as db:
            (n,) = db.execute("SELECT COUNT(*) FROM feedback WHERE owner = ?", (self.key(owner),)).fetchone()
        return int(n)

    def forget_images(self, image_ids: Sequence[str]) -> int:
        """Every event on these images, whoever gave it: a deleted image stops shaping profiles."""
        with self._db() as db:
            return sum(db.execute("DELETE FROM feedback WHERE image_id = ?", (i,)).rowcount for i in image_ids)

    def forget_library(self, library: str) -> int:
        with self._db() as db:
            return int(db.execute("DELETE FROM feedback WHERE library = ?", (library,)).rowcount)


def personalize(result: SearchResult, affinities: Mapping[str, float], max_boost: float) -> SearchResult:
    """The page re-ranked with each hit's `profile` term (`views.profile`: raw = the mean
    affinity of its tags, calibrated = that on 0..1, weight = max_boost) added to its score."""
    hits = []
    for hit in result.hits:
        affinity, boost = profile_boost(hit.tags, affinities, max_boost)
        views = {
            **hit.views,
            "profile": ViewScore(
                raw=round(affinity, 6), calibrated=round((math.tanh(affinity) + 1) / 2, 6), weight=max_boost
            ),
        }
        hits.append(hit.model_copy(update={"score": round(hit.score + boost, 6), "views": views}))
    hits.sort(key=lambda h: -h.score)
    return result.model_copy(update={"hits": hits, "weights": {**result.weights, "profile": max_boost}})
