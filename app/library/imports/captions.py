"""Captions and tags for untagged imports, from the describe model or the story provider
(AUTO_CAPTION, AUTO_CAPTION_SOURCE).

Before an import embeds its items, each one that has neither tags nor a caption and is not
in the library yet gets a caption (DESCRIBE_MODEL's caption; or the story provider's title
and first sentence) and tags (the caption's words; a story's subjects first). The
pipeline then stores them like any described item: the caption in the payload and the
`text` view, the tags in the payload and the sparse `tags` view, plus `caption_generated:
true` so a person knows to check them (PATCH /images/{id} clears it). Items already in the
library are left alone, so importing the same files again captions nothing and never
overwrites a caption a person corrected.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from PIL import Image

from app.config import Settings
from app.embedding.availability import hub_model_local
from app.embedding.tags import STOPWORDS, normalize_tag
from app.errors import ClippyError, WeightsUnavailableError
from app.generation.describe import Describer
from app.imaging import load_image_file
from app.ingest.pipeline import MAX_FILE_BYTES
from app.ingest.sources import Item
from app.storage.base import VectorStore
from app.storage.payload import CAPTION_GENERATED
from app.storage.schema import content_sha256, point_id
from app.stories.base import StoryProvider

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z][a-z'-]+")
# Caption filler that says nothing about the picture (BLIP likes "there is a … in the …").
_FILLER = STOPWORDS | frozenset(
    "there this that these those image picture photo photograph view close up some very has have".split()
)


def caption_tags(caption: str, limit: int) -> list[str]:
    """Up to `limit` tags from a caption: its words of two letters or more, in order, once
    each, without stop words and caption filler."""
    tags: list[str] = []
    for word in _WORD.findall(caption.lower()):
        tag = normalize_tag(word)
        if tag and tag not in _FILLER and tag not in tags:
            tags.append(tag)
        if len(tags) >= limit:
            break
    return tags


@dataclass
class CaptionReport:
    ids: set[str] = field(default_factory=set)  # the point ids of the items captioned
    notes: list[str] = field(default_factory=list)


class CaptionSource(ABC):
    """Where captions come from: a caption and tags for a picture (blocking)."""

    setting: str  # the setting that names the model, for notes

    @abstractmethod
    def not_on_disk(self) -> str | None:
        """Why captioning would need a download first (AUTO_CAPTION=auto then skips), or None."""

    @abstractmethod
    def describe(self, image: Image.Image, max_tags: int) -> tuple[str, list[str]]: ...


class DescribeSource(CaptionSource):
    """DESCRIBE_MODEL (the generation service's warm describer)."""

    setting = "DESCRIBE_MODEL"

    def __init__(self, settings: Settings, describer: Callable[[], Describer]) -> None:
        self.settings = settings
        self._describer = describer

    def not_on_disk(self) -> str | None:
        s = self.settings
        if hub_model_local(s.DESCRIBE_MODEL, s.MODEL_CACHE_DIR):
            return None
        return f"DESCRIBE_MODEL={s.DESCRIBE_MODEL!r} is not on disk"

    def describe(self, image: Image.Image, max_tags: int) -> tuple[str, list[str]]:
        caption = self._describer().caption(image)
        return caption, caption_tags(caption, max_tags)


# What the story provider is asked for when it captions an import.
STORY_DIRECTION = "Keep it to a short title and one sentence saying what the picture shows."


class StorySource(CaptionSource):
    """The story provider (STORY_PROVIDER): its title and first sentence, its subjects as tags."""

    setting = "STORY_MODEL"

    def __init__(self, settings: Settings, provider: Callable[[], StoryProvider]) -> None:
        self.settings = settings
        self._provider = provider

    def not_on_disk(self) -> str | None:
        provider = self._provider()
        if why := provider.configured():
            return why
        if provider.name == "transformers" and not hub_model_local(provider.model_name, self.settings.MODEL_CACHE_DIR):
            return f"STORY_MODEL={provider.model_name!r} is not on disk"
        return None

    def describe(self, image: Image.Image, max_tags: int) -> tuple[str, list[str]]:
        story = self._provider().tell(image, STORY_DIRECTION).story
        first = story.paragraphs[0].split(". ")[0].strip() if story.paragraphs else ""
        caption = ". ".join(p.strip().rstrip(".") for p in (story.title, first) if p.strip())[:300]
        tags = [t for t in (normalize_tag(x) for x in story.subjects) if t]
        tags = list(dict.fromkeys([*tags, *caption_tags(caption, max_tags)]))[:max_tags]
        return caption, tags


class AutoCaptioner:
    def __init__(self, settings: Settings, source: CaptionSource) -> None:
        self.settings = settings
        self.source = source

    def disabled_because(self) -> str | None:
        """Why imports are not captioned now, or None when they are."""
        s = self.settings
        if s.AUTO_CAPTION == "off":
            return "AUTO_CAPTION is off"
        if s.AUTO_CAPTION == "auto" and (why := self.source.not_on_disk()):
            return (
                f"untagged items were not captioned: {why} (AUTO_CAPTION=auto never downloads it; fetch it, "
                "or set AUTO_CAPTION=on)"
            )
        return None

    def apply(
        self, items: list[Item], library: str, store: VectorStore, should_stop: Callable[[], bool]
    ) -> tuple[list[Item], CaptionReport]:
        """`items` with captions and tags added to the untagged ones not yet in `library`."""
        report = CaptionReport()
        candidates = [i for i, item in enumerate(items) if not item.tags and not item.extra.get("caption")]
        if not candidates:
            return items, report
        if (why := self.disabled_because()) is not None:
            if self.settings.AUTO_CAPTION != "off":
                report.notes.append(why)
            return items, report
        ids: dict[int, str] = {}
        for i in candidates:
            try:
                ids[i] = point_id(content_sha256(items[i].path.read_bytes()), library)
            except OSError:
                continue  # the pipeline reports the unreadable file
        stored = store.existing_ids(list(ids.values())) if ids else set()
        out = list(items)
        for i, pid in ids.items():
            if pid in stored:
                continue  # already in the library: its caption (maybe a person's) stays
            if should_stop():
                break
            try:
                image = load_image_file(
                    items[i].path, max_bytes=MAX_FILE_BYTES, max_pixels=self.settings.MAX_IMAGE_PIXELS
                )
                caption, tags = self.source.describe(image, self.settings.AUTO_CAPTION_MAX_TAGS)
            except WeightsUnavailableError as e:
                report.notes.append(f"untagged items were not captioned: {e.message}")
                break
            except (ClippyError, OSError) as e:
                log.info("auto-caption %s: %s", items[i].path.name, getattr(e, "message", e))
                continue  # the pipeline reports a picture it cannot read
            if not caption:
                continue
            extra = {**items[i].extra, "caption": caption, CAPTION_GENERATED: True}
            out[i] = replace(items[i], tags=tags, extra=extra)
            report.ids.add(pid)
        return out, report
