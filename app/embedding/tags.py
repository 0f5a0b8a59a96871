"""Tags and query words → the sparse `tags` vector (one dimension per term, Qdrant IDF).

A term's dimension is a stable hash, so no vocabulary has to be stored or shared between
processes. A multi-word tag (`long_hair`) yields the whole tag and its words, so the query
"long hair" matches it both exactly (via the bigram) and by word.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from app.storage.types import Sparse

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset("a an and are as at be by for from in into is it its of on or the to with without".split())


def normalize_tag(tag: str) -> str:
    return "_".join(_WORD.findall(tag.lower()))


def term_index(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little")


def _vector(terms: Iterable[str]) -> Sparse:
    weights: dict[int, float] = {}
    for term in terms:
        if term and term not in STOPWORDS:
            idx = term_index(term)
            weights[idx] = weights.get(idx, 0.0) + 1.0
    indices = sorted(weights)
    return Sparse(indices=indices, values=[weights[i] for i in indices])


def document_terms(tags: Iterable[str]) -> list[str]:
    terms: list[str] = []
    for tag in tags:
        norm = normalize_tag(tag)
        words = norm.split("_")
        terms.append(norm)
        if len(words) > 1:
            terms.extend(words)
    return list(dict.fromkeys(terms))  # a tag counts once, however often it is repeated


def query_terms(text: str) -> list[str]:
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    bigrams = [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    return words + bigrams


def tags_vector(tags: Iterable[str]) -> Sparse:
    return _vector(document_terms(tags))


def query_vector(text: str) -> Sparse:
    return _vector(query_terms(text))
