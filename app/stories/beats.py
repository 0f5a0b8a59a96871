"""A story → N beats, each with the recurring subjects it shows (pure functions).

Sentences are dealt into N contiguous beats (as even as the sentence count allows; a story
with fewer sentences than frames splits its longest beats at commas, then repeats the last).
A beat's subjects are the story's subjects its text names; a story without subjects gets
them from the prompt decomposer (app/search/decompose.py): subject/object phrases that
recur in at least two beats (or, in a one-beat story, all of them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.search.decompose import SubQuery
from app.stories.models import Story

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")

Decompose = Callable[[str], Sequence[SubQuery]]


@dataclass(frozen=True)
class Beat:
    index: int
    text: str
    subjects: tuple[str, ...]


def sentences(story: Story) -> list[str]:
    out: list[str] = []
    for paragraph in story.paragraphs:
        out += [s.strip() for s in _SENTENCE.split(paragraph) if s.strip()]
    return out or ([story.title] if story.title else [])


def deal(parts: list[str], n: int) -> list[str]:
    """`parts` in `n` contiguous groups, sizes differing by at most one."""
    if n < 1:
        raise ValueError(f"`n` must be >= 1, got {n}")
    if not parts:
        return []
    while len(parts) < n:
        longest = max(range(len(parts)), key=lambda i: len(parts[i]))
        halves = [h.strip() for h in parts[longest].split(",", 1)]
        if len(halves) < 2 or not all(halves):
            parts = parts + [parts[-1]] * (n - len(parts))
            break
        parts = parts[:longest] + halves + parts[longest + 1 :]
    size, extra = divmod(len(parts), n)
    groups, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        groups.append(" ".join(parts[start:end]))
        start = end
    return groups


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def names(subject: str, text: str) -> bool:
    """Whether `text` names `subject` (every word of it, case-insensitive)."""
    words = _words(subject)
    return bool(words) and words <= _words(text)


def recurring_subjects(texts: Sequence[str], decompose: Decompose) -> list[str]:
    """Words of subject/object phrases that recur across beats, in order of first use. Words,
    not phrases: the rule chunker's phrases carry verbs ("fox meets"), the noun recurs."""
    found: dict[str, int] = {}
    for text in texts:
        seen: dict[str, None] = {}
        for q in decompose(text):
            if q.kind in ("subject", "object"):
                seen.update((w, None) for w in _WORD.findall(q.text.lower()) if len(w) > 2)
        for word in seen:
            found[word] = found.get(word, 0) + 1
    floor = 2 if len(texts) > 1 else 1
    return [w for w, count in found.items() if count >= floor]


def split_beats(story: Story, n: int, decompose: Decompose | None = None) -> list[Beat]:
    texts = deal(sentences(story), n)
    subjects = list(story.subjects)
    if not subjects and decompose is not None:
        subjects = recurring_subjects(texts, decompose)
    return [Beat(i, text, tuple(s for s in subjects if names(s, text))) for i, text in enumerate(texts)]
