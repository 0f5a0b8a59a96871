"""Opaque page cursors: the last hit's (score, id) and how many hits came before.

A cursor is only as good as the scores it compares: every page scores an item the same
(the calibration bounds do not depend on the page, see `HybridSearcher.search`), so
"after (score, id)" continues exactly where the previous page stopped.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

from app.errors import InvalidInputError


@dataclass(frozen=True)
class Cursor:
    score: float
    id: str
    consumed: int  # hits returned on earlier pages

    def encode(self) -> str:
        raw = json.dumps({"s": self.score, "i": self.id, "n": self.consumed}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            cursor = cls(float(data["s"]), str(data["i"]), int(data["n"]))
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidInputError("`cursor` is not a cursor this service issued.", field="cursor") from e
        # Decoding proves the format, not the origin: refuse what this service never writes.
        if cursor.consumed < 0 or not math.isfinite(cursor.score):
            raise InvalidInputError("`cursor` is not a cursor this service issued.", field="cursor")
        return cursor

    def after(self, score: float, pid: str) -> bool:
        """True when (score, id) sorts after this cursor (score descending, then id)."""
        return score < self.score or (score == self.score and pid > self.id)
