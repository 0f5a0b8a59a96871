"""Every request example and script flag line of the five seeds, sent exactly as written
(tests/seeds/requests.json), answers what the table says: 2xx/202, or a domain answer (404
for an id the library does not hold, 403 for a path outside IMPORT_ROOTS), never a 422 for
a field the seed documents."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.embedding import Encoders
from tests.seeds.play import TABLE, play, rows, world

BEFORE_AFTER = Path(__file__).with_name("before_after.json")


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders) -> Iterator[dict[str, tuple[int, Any]]]:
    """Each row's status and answer, played once and in order (003's user_id comes from its
    /db/initialize answer)."""
    with world(tmp_path_factory.mktemp("seeds"), encoders) as w:
        yield {row["id"]: play(w, row) for row in rows()}


def _at(answer: Any, path: str) -> Any:
    for part in path.split("."):
        answer = answer[int(part)] if isinstance(answer, list) else answer[part]
    return answer


@pytest.mark.parametrize("row", rows(), ids=lambda r: r["id"])
def test_the_seed_example_gets_its_answer(answers: dict[str, tuple[int, Any]], row: dict[str, Any]) -> None:
    status, answer = answers[row["id"]]
    assert status == row["expect"], (row["id"], answer)
    if "expect_text" in row:
        assert row["expect_text"] in json.dumps(answer), answer
    if "expect_json" in row:
        png = base64.b64decode(_at(answer, row["expect_json"]))
        assert Image.open(io.BytesIO(png)).format == "PNG"
    if status == 422:
        # Only for what the seed's own value makes invalid (its elided data URL), never an
        # extra or mistyped field the seed documents.
        assert all("Extra inputs" not in e["message"] for e in answer.get("errors", [])), answer
        assert "note" in row, "a 422 in the table says why"


def test_every_row_is_in_the_before_after_note() -> None:
    """tests/seeds/before_after.json (the closing note's table) has every row, with this
    branch's status as its `after`."""
    note = json.loads(BEFORE_AFTER.read_text())
    table = {row["id"]: row for row in json.loads(TABLE.read_text())["rows"]}
    assert [r["id"] for r in note["rows"]] == list(table)
    for r in note["rows"]:
        assert r["after"] == table[r["id"]]["expect"], r
