"""The weights (and fusion path) a search uses for what its request does not send.

Defaults depend on the query's *kind*, the inputs it sent: `sketch`, `text`, `sketch+text`,
`image`, or `examples` (library ids alone). A kind not in the table (an image with a prompt,
a sketch with an image) takes, view by view, the largest default of its parts; library ids
beside other inputs do not change the kind.

The table ships in `defaults.json` beside this module and cites the evaluation run it came
from (scripts/evaluate.py prints the recommendation of a run in the same shape). On top of
it one rule holds whatever the table says: a view driven by a model with random weights
(PRETRAINED=random: `image` and `edge`; the `text` view too when TEXT_MODEL=clip) carries no
signal, so its default is 0 and the answer says so in `notes`. A weight the request sends
is used as sent.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VIEWS = ("image", "edge", "shape", "text", "tags")
# The request fields of each view's weight (HybridQuery, camelCase on the wire).
WEIGHT_FIELDS = {"image": "w_img", "edge": "w_edge", "shape": "w_shape", "text": "w_txt", "tags": "w_tags"}
WIRE_NAMES = {"image": "wImg", "edge": "wEdge", "shape": "wShape", "text": "wTxt", "tags": "wTags"}
INPUTS = ("sketch", "text", "image")  # in the order a kind names them
KINDS = ("sketch", "text", "sketch+text", "image", "examples")
# Which views each input feeds (app/search/encoder.py routes them so); library ids feed all.
FEEDS = {
    "sketch": frozenset({"edge", "shape"}),
    "text": frozenset({"image", "text", "tags"}),
    "image": frozenset({"image", "edge", "shape"}),
    "examples": frozenset({"image", "edge", "shape", "text"}),
}
DEFAULTS_PATH = Path(__file__).with_name("defaults.json")


def query_kind(inputs: Collection[str], examples: bool = False) -> str:
    """`sketch`, `text`, `sketch+text`, `image`, `image+text`, …: the inputs sent, in a fixed
    order; `examples` when only library ids were sent (and for nothing at all)."""
    unknown = set(inputs) - set(INPUTS)
    if unknown:
        raise ValueError(f"`inputs` are among {list(INPUTS)}, got {sorted(unknown)}")
    parts = [name for name in INPUTS if name in inputs]
    return "+".join(parts) if parts else "examples"


@dataclass(frozen=True)
class KindDefaults:
    weights: dict[str, float]  # every view of VIEWS, ≥ 0
    rerank: bool = True


@dataclass(frozen=True)
class DefaultsTable:
    """Per-kind defaults and where they came from (`source`: the run, or why there is none)."""

    kinds: dict[str, KindDefaults]
    source: str

    def __post_init__(self) -> None:
        missing = set(KINDS) - set(self.kinds)
        if missing:
            raise ValueError(f"the defaults table lacks the kinds {sorted(missing)}")
        for kind, d in self.kinds.items():
            bad = {v: w for v, w in d.weights.items() if v not in VIEWS or not 0 <= w <= 100}
            if bad or set(d.weights) != set(VIEWS):
                raise ValueError(f"kind {kind!r}: weights must give each of {list(VIEWS)} 0..100, got {d.weights}")

    def for_kind(self, kind: str) -> KindDefaults:
        """The table's row, or for a kind it lacks the per-view maximum of its parts' rows (a
        fusion path only when every part takes it)."""
        if kind in self.kinds:
            return self.kinds[kind]
        parts = [self.kinds[p] for p in kind.split("+")]
        weights = {v: max(p.weights[v] for p in parts) for v in VIEWS}
        return KindDefaults(weights, rerank=any(p.rerank for p in parts))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DefaultsTable:
        kinds = {
            name: KindDefaults(
                {v: float(row["weights"].get(v, 0.0)) for v in VIEWS} | _unknown(row["weights"]),
                bool(row.get("rerank", True)),
            )
            for name, row in data["kinds"].items()
        }
        return cls(kinds, str(data["source"]))

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kinds": {k: {"weights": dict(d.weights), "rerank": d.rerank} for k, d in self.kinds.items()},
        }


def _unknown(weights: Mapping[str, Any]) -> dict[str, float]:
    # Kept so that __post_init__ names a misspelt view instead of silently dropping it.
    return {v: float(w) for v, w in weights.items() if v not in VIEWS}


def load_table(path: Path = DEFAULTS_PATH) -> DefaultsTable:
    return DefaultsTable.from_json(json.loads(path.read_text(encoding="utf-8")))


def views_without_signal(random_weights: bool, text_is_clip: bool) -> dict[str, str]:
    """Views driven by a random-weight model → why they carry no signal."""
    if not random_weights:
        return {}
    why = "the image model has random weights (PRETRAINED=random)"
    out = {"image": why, "edge": why}
    if text_is_clip:
        out["text"] = why + " and TEXT_MODEL=clip embeds the text view with it"
    return out


@dataclass(frozen=True)
class Resolved:
    """What a query runs with: every view's weight (sent or default), the fusion path, notes."""

    weights: dict[str, float]
    rerank: bool
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SearchDefaults:
    """The table and the running model's views without signal: the defaults this service uses."""

    table: DefaultsTable
    no_signal: dict[str, str]

    def for_kind(self, kind: str) -> KindDefaults:
        """The kind's defaults with views without signal at 0. Where that would leave no view
        the kind feeds, the table's row is kept (a search with no signal beats none at all)."""
        row = self.table.for_kind(kind)
        fed = _fed(kind)
        weights = {v: 0.0 if v in self.no_signal else w for v, w in row.weights.items()}
        if not any(weights[v] > 0 for v in fed):
            return row
        return KindDefaults(weights, row.rerank)

    def resolve(self, kind: str, sent: Mapping[str, float], rerank: bool | None) -> Resolved:
        """`sent`: the views whose weight the request sent (view → weight); `rerank`: as sent, or
        None. Everything else comes from the kind's defaults."""
        row = self.for_kind(kind)
        weights = {v: float(sent[v]) if v in sent else row.weights[v] for v in VIEWS}
        notes = []
        fed = _fed(kind)
        zeroed = sorted(v for v in fed if v in self.no_signal and v not in sent and weights[v] == 0)
        if zeroed:
            reasons = dict.fromkeys(self.no_signal[v] for v in zeroed)
            notes.append(
                f"{', '.join(f'`{v}`' for v in zeroed)} got no default weight: {'; '.join(reasons)}, so "
                f"{'they carry' if len(zeroed) > 1 else 'it carries'} no signal. "
                f"Send {', '.join(WIRE_NAMES[v] for v in zeroed)} to weigh {'them' if len(zeroed) > 1 else 'it'} anyway."
            )
        kept = sorted(v for v in fed if v in self.no_signal and v not in sent and weights[v] > 0)
        if kept:
            notes.append(
                f"{', '.join(f'`{v}`' for v in kept)} kept a default weight although "
                f"{'they carry' if len(kept) > 1 else 'it carries'} no signal: no other view this query feeds has any."
            )
        return Resolved(weights, row.rerank if rerank is None else rerank, notes)

    def describe(self) -> dict[str, dict[str, Any]]:
        """Per kind: the weights (wire names) and fusion path a request that sends none gets."""
        out: dict[str, dict[str, Any]] = {}
        for kind in KINDS:
            row = self.for_kind(kind)
            fed = _fed(kind)
            out[kind] = {
                "weights": {WIRE_NAMES[v]: row.weights[v] if v in fed else 0.0 for v in VIEWS},
                "rerank": row.rerank,
            }
        return out


def _fed(kind: str) -> frozenset[str]:
    return frozenset().union(*(FEEDS[p] for p in kind.split("+")))
