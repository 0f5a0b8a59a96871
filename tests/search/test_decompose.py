"""Prompt → sub-queries: a table for the rule-based chunker, and the parser path on a
hand-annotated spaCy Doc (no parser model is installed offline)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import spacy
from spacy.tokens import Doc

from app.search.decompose import Decomposer

TABLE: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "a watercolor painting of a red fox and an owl in a snowy forest at night",
        [
            ("style", "watercolor painting"),
            ("subject", "red fox"),
            ("subject", "owl"),
            ("setting", "snowy forest"),
            ("setting", "night"),
        ],
    ),
    (
        "a cat sitting on a mat in the style of van gogh",
        [("subject", "cat"), ("object", "mat"), ("style", "style of van gogh")],
    ),
    (
        "a girl with long red hair wearing a hat, pixel art",
        [("subject", "girl"), ("object", "long red hair"), ("object", "hat"), ("style", "pixel art")],
    ),
    ("a dog without a leash on the beach", [("subject", "dog"), ("setting", "beach")]),
    ("frog, house and camera", [("subject", "frog"), ("subject", "house"), ("subject", "camera")]),
    (
        "an oil painting of a bowl of fruit on a wooden table",
        [("style", "oil painting"), ("subject", "bowl"), ("object", "fruit"), ("object", "wooden table")],
    ),
    (
        "A photorealistic portrait of an old man",
        [("style", "photorealistic"), ("setting", "portrait"), ("subject", "old man")],
    ),
    ("a sleeping cat is on a red sofa", [("subject", "sleeping cat"), ("object", "red sofa")]),
    (
        "close-up of a bird's nest; two red foxes at night.",
        [("setting", "close-up"), ("subject", "bird's nest"), ("subject", "two red foxes"), ("setting", "night")],
    ),
    (
        "minimalist line art of a mountain lake at sunrise",
        [("style", "minimalist line art"), ("setting", "mountain lake"), ("setting", "sunrise")],
    ),
    (
        "Two CATS playing with yarn, cartoon style",
        [("subject", "two cats"), ("object", "yarn"), ("style", "cartoon style")],
    ),
    ("a pop art cat", [("style", "pop art"), ("subject", "cat")]),
    ("a cat in black and white", [("subject", "cat"), ("style", "black and white")]),
    ("a photo of a red car, wide shot", [("style", "photo"), ("subject", "red car"), ("setting", "wide shot")]),
    ("a cat and a cat", [("subject", "cat")]),
    ("the the and ,", []),
]


@pytest.fixture(scope="module")
def rules() -> Decomposer:
    return Decomposer(None)


@pytest.mark.parametrize("prompt, expected", TABLE, ids=[p for p, _ in TABLE])
def test_rule_based_decomposition_table(rules: Decomposer, prompt: str, expected: list[tuple[str, str]]) -> None:
    got = rules.decompose(prompt)
    assert [(q.kind, q.text) for q in got] == expected
    assert [q.id for q in got] == [f"q{i + 1}" for i in range(len(expected))]


def test_decomposition_is_deterministic(rules: Decomposer) -> None:
    prompt = TABLE[0][0]
    assert rules.decompose(prompt) == Decomposer(None).decompose(prompt) == rules.decompose(prompt)


def test_at_most_max_subqueries_are_kept() -> None:
    prompt = "a robot, a dog, a cat, a bird, a fish, a tree"
    assert [q.text for q in Decomposer(None, max_subqueries=3).decompose(prompt)] == ["robot", "dog", "cat"]
    with pytest.raises(ValueError, match="max_subqueries"):
        Decomposer(None, max_subqueries=0)


def test_a_missing_parser_model_falls_back_to_rules_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="app.search.decompose"):
        d = Decomposer("clippy_no_such_spacy_model")
    assert d.path == "rules" and not d.parser
    assert "clippy_no_such_spacy_model" in caplog.text and "rule-based" in caplog.text
    assert [q.text for q in d.decompose("a fox in a forest")] == ["fox", "forest"]


class _AnnotatedParser:
    """Stands in for a parser pipeline: returns a hand-annotated Doc for its one prompt."""

    def __init__(self, words: list[str], pos: list[str], deps: list[str], heads: list[int]) -> None:
        self.vocab = spacy.blank("en").vocab
        self.doc: Any = Doc(self.vocab, words=words, pos=pos, deps=deps, heads=heads)

    def has_pipe(self, name: str) -> bool:
        return name == "parser"

    def __call__(self, text: str) -> Any:
        return self.doc


def test_the_parser_path_uses_noun_chunks_and_dependency_roles() -> None:
    # "a watercolor fox chases a mouse in a dark forest"
    words = ["a", "watercolor", "fox", "chases", "a", "mouse", "in", "a", "dark", "forest"]
    pos = ["DET", "NOUN", "NOUN", "VERB", "DET", "NOUN", "ADP", "DET", "ADJ", "NOUN"]
    deps = ["det", "compound", "nsubj", "ROOT", "det", "dobj", "prep", "det", "amod", "pobj"]
    heads = [2, 2, 3, 3, 5, 3, 3, 9, 9, 6]
    d = Decomposer(nlp=_AnnotatedParser(words, pos, deps, heads))
    assert d.path == "parser"
    got = [(q.kind, q.text) for q in d.decompose(" ".join(words))]
    assert got == [("style", "watercolor"), ("subject", "fox"), ("object", "mouse"), ("setting", "dark forest")]


def test_a_phrase_longer_than_the_api_allows_is_cut_to_200_characters(rules: Decomposer) -> None:
    (q,) = rules.decompose("a " + " ".join(["verylongword"] * 40))
    assert len(q.text) == 200 and q.text == q.text.strip()
