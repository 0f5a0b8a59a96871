"""A prompt → sub-queries: subject/object phrases with their modifiers, style, setting.

Cross-modal RAG (arXiv 2505.21956) retrieves for each part of a prompt separately, so that
references that each show one part can together cover a prompt no single image matches.

    "a watercolor painting of a red fox and an owl in a snowy forest at night"
    → style "watercolor painting" · subject "red fox" · subject "owl"
      · setting "snowy forest" · setting "night"

Two paths, one classifier:

* with a spaCy parser pipeline (`RAG_SPACY_MODEL`, `en_core_web_sm` by default) installed,
  its noun chunks are the phrases and their dependency role says subject or object;
* without one (the default install), a rule-based chunker over spaCy's tokenizer
  (`spacy.blank("en")`) cuts the prompt at punctuation, conjunctions, prepositions,
  determiners and auxiliaries, and drops a trailing verb ("a cat *sitting* on a mat").
  A warning is logged once when this fallback is used.

Then every phrase is classified with small lexicons: style words (a medium or a look —
"watercolor", "pixel art", "in the style of …", "… style") become `style` sub-queries, even
as a leading modifier ("a *watercolor* fox" → style "watercolor" + subject "fox");
places, times, weather and composition terms become `setting`; the first phrase (and
those joined to it by "and"/",") is the `subject`, later ones `object`. Phrases after
"without"/"no" are negations and are left out. The output is deterministic: the same
prompt always gives the same sub-queries, in prompt order, without duplicates.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from app.extras import require

log = logging.getLogger(__name__)

Kind = Literal["subject", "object", "style", "setting"]
KINDS: tuple[str, ...] = ("subject", "object", "style", "setting")

DETERMINERS = frozenset(
    "a an the this that these those some any each every my your his her its our their another".split()
)
CONJUNCTIONS = frozenset("and or but plus & nor".split())
NEGATIONS = frozenset("without no not".split())
PREPOSITIONS = frozenset(
    "in on at of with under over above below beneath behind beside besides near by into onto "
    "through across along around against among amid between inside outside within from to "
    "for during toward towards upon via like underneath atop".split()
)
AUXILIARIES = frozenset(
    "is are was were be been being am has have had does do did can could will would should may might "
    "who which that while where when".split()
)
# Words ending in -ing that are nouns, not verbs.
ING_NOUNS = frozenset(
    "painting building clothing ceiling king ring wing spring string thing evening morning "
    "lightning wedding pudding earring swing sibling dumpling stocking ding ping bing".split()
)

STYLE_WORDS = frozenset(
    """
    watercolor watercolour watercolors gouache acrylic oil pastel pastels charcoal pencil ink crayon
    sketch sketched sketchy drawing drawn doodle painting painted illustration illustrated render
    rendered photo photograph photographic photorealistic photorealism realistic hyperrealistic
    cartoon cartoonish anime manga comic chibi kawaii clipart vector flat minimalist minimal
    pixel pixelated isometric lowpoly 3d 2d cgi impressionist impressionism expressionist cubist
    cubism surreal surrealist surrealism abstract baroque gothic renaissance rococo vintage retro
    noir monochrome monochromatic grayscale greyscale sepia neon psychedelic vaporwave synthwave
    cyberpunk steampunk woodcut engraving etching lithograph linocut stencil graffiti mosaic
    ukiyo-e art-deco art-nouveau pop-art line-art hand-drawn cel-shaded cinematic glossy matte
    silhouette silhouetted blueprint papercut origami claymation stained-glass style styled
    """.split()
)
STYLE_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in (
        "oil painting",
        "pop art",
        "line art",
        "pixel art",
        "digital art",
        "digital painting",
        "concept art",
        "art deco",
        "art nouveau",
        "low poly",
        "black and white",
        "3d render",
        "stained glass",
        "studio ghibli",
        "cel shaded",
        "clip art",
    )
)
SETTING_WORDS = frozenset(
    """
    background backdrop foreground scene scenery landscape seascape cityscape skyline horizon
    forest woods jungle desert beach shore coast sea ocean lake river pond waterfall sky clouds
    mountain mountains hill hills valley field fields meadow garden park farm countryside village
    town city street streets road alley bridge harbor harbour island cave underwater space
    room kitchen bedroom office classroom library studio stage interior indoors outdoors
    night midnight day daytime sunset sunrise dawn dusk twilight noon evening morning
    winter summer autumn fall snow rain storm fog mist moonlight sunlight
    close-up closeup portrait panorama panoramic macro centered symmetrical aerial overhead
    top-down wide-angle bokeh
    """.split()
)
SETTING_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in (
        "wide shot",
        "full body",
        "close up",
        "bird's eye view",
        "birds eye view",
        "top view",
        "side view",
        "front view",
        "aerial view",
        "from above",
        "from below",
        "outer space",
    )
)
CLAUSE_ENDS = frozenset(";.!?")
MAX_TEXT = 200  # characters of one sub-query (the API's limit on `subQueries[].text`)
_WORD = re.compile(r"[a-z0-9]")


@dataclass(frozen=True)
class SubQuery:
    id: str
    text: str
    kind: Kind
    weight: float = 1.0


@dataclass
class _Phrase:
    """A run of words from the prompt, before it is classified."""

    words: list[str]
    start: int  # token position in the prompt: the output follows prompt order
    group: int  # phrases joined by "and"/"," share a group; a preposition or verb starts a new one
    clause: int = 0  # ";" "." "!" "?" start a new clause, with a subject of its own
    role: Kind | None = None  # set by the parser path from the dependency label


def _tokens(doc: Iterable[Any]) -> list[tuple[str, int, bool]]:
    """(lower-cased word, position, glued to the next token) with hyphenated and possessive
    pieces re-joined: "close - up" → "close-up", "bird 's" → "bird's"."""
    out: list[tuple[str, int, bool]] = []
    glue = False
    for tok in doc:
        text = tok.text.lower()
        if out and (glue and (text == "-" or out[-1][0].endswith("-")) or text in ("'s", "’s")):
            prev, pos, _ = out[-1]
            out[-1] = (prev + ("'s" if text in ("'s", "’s") else text), pos, not tok.whitespace_)
        else:
            out.append((text, tok.i, not tok.whitespace_))
        glue = not tok.whitespace_
    return out


def _is_word(text: str) -> bool:
    return bool(_WORD.search(text))


def _match(words: list[str], i: int, phrases: tuple[tuple[str, ...], ...]) -> int:
    """Length of the longest lexicon phrase starting at words[i] (0 when none)."""
    best = 0
    for p in phrases:
        if len(p) > best and tuple(words[i : i + len(p)]) == p:
            best = len(p)
    return best


class Decomposer:
    """`decompose(prompt)` → sub-queries; loads spaCy once."""

    def __init__(self, model: str | None = "en_core_web_sm", max_subqueries: int = 8, *, nlp: Any = None) -> None:
        if max_subqueries < 1:
            raise ValueError(f"`max_subqueries` must be >= 1, got {max_subqueries}")
        self.max_subqueries = max_subqueries
        self.parser = False
        if nlp is not None:
            self.nlp = nlp
            self.parser = nlp.has_pipe("parser") if hasattr(nlp, "has_pipe") else True
            self.path = "parser" if self.parser else "rules"
            return
        spacy = require("spacy")  # the `rag` extra

        if model:
            try:
                self.nlp = spacy.load(model, exclude=["ner", "lemmatizer", "textcat"])
                self.parser = self.nlp.has_pipe("parser")
            except OSError:
                log.warning(
                    "spaCy pipeline %r is not installed; decomposing prompts with the rule-based chunker over "
                    "spaCy's tokenizer (install %s, or set RAG_SPACY_MODEL, for parser-based noun chunks)",
                    model,
                    model,
                )
        if not self.parser:
            self.nlp = spacy.blank("en")
        self.path = "parser" if self.parser else "rules"

    # --- phrases ---------------------------------------------------------------------------

    def _phrases_rules(self, doc: Any) -> list[_Phrase]:
        tokens = _tokens(doc)
        phrases: list[_Phrase] = []
        current: list[str] = []
        start = 0
        group = 0
        clause = 0
        negated = False

        def flush(new_group: bool) -> None:
            nonlocal current, group
            if current and not negated:
                phrases.append(_Phrase(current, start, group, clause))
            current = []
            if new_group:
                group += 1

        for k, (text, pos, _) in enumerate(tokens):
            nxt = tokens[k + 1][0] if k + 1 < len(tokens) else ""
            if text in CONJUNCTIONS and current and (current[-1], text, nxt) in STYLE_PHRASES:
                current.append(text)  # "black and white" is one style
            elif text in CLAUSE_ENDS:
                flush(True)
                clause += 1
                negated = False
            elif not _is_word(text):  # other punctuation: a list separator, same group
                flush(False)
                negated = False
            elif text in CONJUNCTIONS:
                flush(False)
                negated = False
            elif text in NEGATIONS:
                flush(True)
                negated = True
            elif text == "of" and current and current[-1] in ("style", "styled"):
                current.append(text)  # "in the style of van gogh" stays one style phrase
            elif text in PREPOSITIONS or text in AUXILIARIES:
                flush(True)
                negated = False
            elif text in DETERMINERS:
                flush(False)
            else:
                if not current:
                    start = pos
                current.append(text)
        flush(False)
        for p in phrases:
            # A trailing verb: "a cat sitting" (on a mat) → "cat".
            if len(p.words) > 1 and p.words[-1].endswith("ing") and p.words[-1] not in ING_NOUNS:
                if p.words[-1] not in STYLE_WORDS and p.words[-1] not in SETTING_WORDS:
                    p.words = p.words[:-1]
        return phrases

    def _phrases_parser(self, doc: Any) -> list[_Phrase]:
        phrases: list[_Phrase] = []
        covered: set[int] = set()
        for chunk in doc.noun_chunks:
            words = [t.text.lower() for t in chunk if t.dep_ not in ("det", "poss", "predet") and _is_word(t.text)]
            if not words or any(t.dep_ == "neg" or t.lower_ in NEGATIONS for t in chunk):
                continue
            root = chunk.root
            role: Kind | None = None
            if root.dep_ in ("nsubj", "nsubjpass", "ROOT", "appos", "attr", "npadvmod") or (
                root.dep_ == "conj" and root.head.dep_ in ("nsubj", "nsubjpass", "ROOT")
            ):
                role = "subject"
            else:
                role = "object"
            if root.head.lower_ in NEGATIONS or root.head.head.lower_ in NEGATIONS:
                continue
            phrases.append(_Phrase(words, chunk.start, 0, role=role))
            covered.update(range(chunk.start, chunk.end))
        # Words outside every chunk that still carry meaning (an adjective after "in" like
        # "in watercolor", a style word the tagger did not attach) go through the rules.
        rest = [t for t in doc if t.i not in covered and t.pos_ in ("ADJ", "NOUN", "PROPN", "X")]
        for t in rest:
            phrases.append(_Phrase([t.text.lower()], t.i, 0, role="object"))
        return sorted(phrases, key=lambda p: p.start)

    # --- classification --------------------------------------------------------------------

    @staticmethod
    def _split(words: list[str]) -> list[tuple[list[str], Kind | None]]:
        """One phrase → parts in prompt order, style and setting lexicon runs split off
        ("watercolor fox" → style "watercolor" + "fox"); None leaves the kind to the caller."""
        if any(w in ("style", "styled") or w.endswith(("-style", "-styled")) for w in words):
            return [(words, "style")]
        # Mark lexicon phrases first (longest match), then single style words.
        marks: list[tuple[int, int, Kind]] = []  # (start, end, kind)
        i = 0
        while i < len(words):
            n = _match(words, i, STYLE_PHRASES)
            kind: Kind = "style"
            if not n:
                n, kind = _match(words, i, SETTING_PHRASES), "setting"
            if n:
                marks.append((i, i + n, kind))
                i += n
            else:
                i += 1
        in_mark = {j for a, b, _ in marks for j in range(a, b)}
        style_word = [
            j in in_mark and any(a <= j < b and k == "style" for a, b, k in marks) or w in STYLE_WORDS
            for j, w in enumerate(words)
        ]
        if all(style_word):
            return [(words, "style")]
        parts: list[tuple[int, list[str], Kind | None]] = []
        lead = 0
        while style_word[lead]:  # a leading run of style modifiers before the head
            lead += 1
        if lead:
            parts.append((0, words[:lead], "style"))
        rest: list[int] = []
        for a, b, k in marks:
            if a >= lead:
                parts.append((a, words[a:b], k))
        for j in range(lead, len(words)):
            if j not in in_mark:
                rest.append(j)
        if rest:
            head = words[rest[-1]]
            parts.append((rest[0], [words[j] for j in rest], "setting" if head in SETTING_WORDS else None))
        return [(w, k) for _, w, k in sorted(parts, key=lambda p: p[0])]

    def decompose(self, prompt: str) -> list[SubQuery]:
        doc = self.nlp(prompt)
        phrases = self._phrases_parser(doc) if self.parser else self._phrases_rules(doc)
        out: list[SubQuery] = []
        seen: set[str] = set()
        first_group: dict[int, int] = {}  # clause → the group of its subject
        for phrase in phrases:
            for words, forced in self._split(phrase.words):
                text = " ".join(words).replace("_", " ").strip()[:MAX_TEXT].strip()
                if not text or text in seen:
                    continue
                kind: Kind
                if forced is not None:
                    kind = forced
                elif phrase.role is not None:
                    kind = phrase.role
                else:
                    subject_group = first_group.setdefault(phrase.clause, phrase.group)
                    kind = "subject" if phrase.group == subject_group else "object"
                seen.add(text)
                out.append(SubQuery(id="", text=text, kind=kind))
        out = out[: self.max_subqueries]
        return [SubQuery(id=f"q{i + 1}", text=q.text, kind=q.kind, weight=q.weight) for i, q in enumerate(out)]
