"""The image card: what every answer that lists library images says of each one (search
hits, complementary refs, library pages), read from the point's typed payload in one place.

The answers' own models (`Hit`, `ComplementaryRef`, `ImageSummary`) keep their fields and
order on the wire; they take the card's fields with `**card.fields()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from app.storage.payload import Payload


class CardFields(TypedDict):
    """The card's fields under the answer models' names."""

    image_url: str
    thumb_url: str
    tags: list[str]
    width: int | None
    height: int | None
    source: str | None
    path: str | None


@dataclass(frozen=True)
class ImageCard:
    id: str
    library: str | None
    tags: list[str]
    width: int | None
    height: int | None
    source: str | None
    path: str | None

    @classmethod
    def from_payload(cls, pid: str, payload: Payload | Mapping[str, Any]) -> ImageCard:
        p = payload if isinstance(payload, Payload) else Payload.read(payload)
        return cls(
            id=pid,
            library=p.library,
            tags=list(p.tags),
            width=p.width,
            height=p.height,
            source=p.source,
            path=p.path,
        )

    @property
    def image_url(self) -> str:
        return f"/image/{self.id}"

    @property
    def thumb_url(self) -> str:
        return f"/thumb/{self.id}"

    def fields(self) -> CardFields:
        return CardFields(
            image_url=self.image_url,
            thumb_url=self.thumb_url,
            tags=list(self.tags),
            width=self.width,
            height=self.height,
            source=self.source,
            path=self.path,
        )
