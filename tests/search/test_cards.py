"""One image card for every answer that lists library images."""

from __future__ import annotations

from app.library.browse import summary
from app.search.cards import ImageCard
from app.search.models import Hit, HitPayload
from app.storage.payload import Payload

PID = "6f1c1a52-5a43-5e0e-9a49-0d6d8b3b1f7e"
STORED = {"path": "a/b.png", "tags": ["box"], "width": 9, "height": 7, "source": "seed", "library": "art", "title": "t"}


def test_the_card_reads_the_payload_and_links_the_image_routes() -> None:
    card = ImageCard.from_payload(PID, STORED)
    assert card == ImageCard.from_payload(PID, Payload.read(STORED))
    assert card.fields() == {
        "image_url": f"/image/{PID}",
        "thumb_url": f"/thumb/{PID}",
        "tags": ["box"],
        "width": 9,
        "height": 7,
        "source": "seed",
        "path": "a/b.png",
    }
    assert card.library == "art"


def test_a_payload_without_card_fields_gives_an_empty_card() -> None:
    card = ImageCard.from_payload(PID, {})
    assert (card.tags, card.width, card.height, card.source, card.path, card.library) == (
        [],
        None,
        None,
        None,
        None,
        None,
    )


def test_hits_and_library_pages_keep_their_wire_shape() -> None:
    card = ImageCard.from_payload(PID, STORED)
    hit = Hit(id=PID, score=0.5, views={}, **card.fields(), payload=HitPayload.of(card))
    assert list(hit.model_dump(by_alias=True)) == [
        "id",
        "score",
        "views",
        "imageUrl",
        "thumbUrl",
        "tags",
        "width",
        "height",
        "source",
        "path",
        "payload",
    ]
    assert hit.model_dump(by_alias=True)["payload"] == {
        "path": "a/b.png",
        "tags": ["box"],
        "library": "art",
        "source": "seed",
    }
    page_item = summary(PID, STORED).model_dump(by_alias=True)
    assert page_item == {
        "id": PID,
        "library": "art",
        "tags": ["box"],
        "width": 9,
        "height": 7,
        "source": "seed",
        "path": "a/b.png",
        "imageUrl": f"/image/{PID}",
        "thumbUrl": f"/thumb/{PID}",
        # A caption an import's model wrote is flagged until a person edits it (PATCH /images/{id}).
        "caption": None,
        "captionGenerated": False,
    }
    assert list(page_item) == [
        "id",
        "library",
        "tags",
        "width",
        "height",
        "source",
        "path",
        "imageUrl",
        "thumbUrl",
        "caption",
        "captionGenerated",
    ]
