"""Opaque page cursors: the last hit's (score, id) and how many hits came before."""

from __future__ import annotations

import base64
import json
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
            return cls(float(data["s"]), str(data["i"]), int(data["n"]))
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidInputError("`cursor` is not a cursor this service issued.", field="cursor") from e

    def after(self, score: float, pid: str) -> bool:
        """True when (score, id) sorts after this cursor (score descending, then id)."""
        return score < self.score or (score == self.score and pid > self.id)
