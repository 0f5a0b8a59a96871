"""Plays the seeds' request table (tests/seeds/requests.json) against the real app.

`world()` builds the app every row runs against: a small library of shape pictures, a
generator that needs no weights, and IMPORT_ROOTS holding a picture and a folder. `play()`
sends one row exactly as the table holds it (placeholders filled in) and answers its status.

Run as a program, it writes every row's status to a JSON file; run from a checkout of main
it records the "before" column of tests/seeds/before_after.json:

    PYTHONPATH=$PWD python -m tests.seeds.play before.json
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import typer
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders, load_encoders
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item
from app.services import Services
from app.storage.edge import EdgeStore
from tests.support.blend import BlendProvider
from tests.support.images import SHAPE_TAGS, shape_image
from tests.support.settings import tiny_settings

TABLE = Path(__file__).with_name("requests.json")


def rows() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(TABLE.read_text())["rows"]
    return loaded


@dataclass
class World:
    client: TestClient
    values: dict[str, str] = field(default_factory=dict)


def _png(kind: int, seed: int) -> bytes:
    buf = io.BytesIO()
    shape_image(kind, seed).save(buf, format="PNG")
    return buf.getvalue()


@contextlib.contextmanager
def world(tmp: Path, encoders: Encoders, **overrides: Any) -> Iterator[World]:
    root, imports = tmp / "images", tmp / "imports"
    (imports / "folder").mkdir(parents=True)
    items = []
    for i in range(6):
        rel = Path(f"img_{i}.png")
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shape_image(i % 3, i).save(root / rel)
        items.append(Item(root / rel, list(SHAPE_TAGS[i % 3])))
    shape_image(1, 40).save(imports / "one.png")
    for i in range(2):
        shape_image(i, 50 + i).save(imports / "folder" / f"pic_{i}.png")
    settings = tiny_settings(
        tmp, IMAGES_ROOT=root, GENERATED_ROOT=tmp / "generated", IMPORT_ROOTS=[imports], **overrides
    )
    store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
    ids = Ingestor(encoders, store, IngestOptions(images_root=root)).run(items).ids
    services = Services.open(settings, encoders=encoders, store=store, providers={"sdxl": BlendProvider()})
    try:
        with TestClient(create_app(settings, services)) as client:
            data_url = "data:image/png;base64," + base64.b64encode(_png(0, 99)).decode()
            yield World(
                client,
                {
                    "image_id": ids[0],
                    "data_url": data_url,
                    "import_file": str(imports / "one.png"),
                    "import_folder": str(imports / "folder"),
                },
            )
    finally:
        store.close()


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, filled in values.items():
            value = value.replace("{" + name + "}", filled)
        return value
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def _run_script(row: dict[str, Any]) -> int:
    """The seed's command line, parsed by the program the seed names (flags and values checked;
    nothing runs: the booru fetch needs the network and the others the seed's dataset). The
    files it names (`touch`) exist, in a scratch working folder."""
    command = typer.main.get_command(import_module(row["script"]).cli)
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        for name in row.get("touch", []):
            (Path(scratch) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(scratch) / name).touch()
        try:
            command.make_context(row["script"], list(row["argv"]))
        except Exception as e:  # Typer vendors click: its UsageError is not click's
            code: int = getattr(e, "exit_code", 1)
            return code
    return 0


def play(w: World, row: dict[str, Any]) -> tuple[int, Any]:
    """The row's status and its answer (JSON where it is JSON)."""
    if "script" in row:
        return _run_script(row), None
    path = _fill(row["path"], w.values)
    kwargs: dict[str, Any] = {}
    if "json" in row:
        kwargs["json"] = _fill(row["json"], w.values)
    if "form" in row or "files" in row:
        kwargs["data"] = _fill(row.get("form", {}), w.values)
        kwargs["files"] = [(name, (f"{name}.png", _png(2, 7), "image/png")) for name in row.get("files", [])]
    response = w.client.request(row["method"], path, **kwargs)
    try:
        answer: Any = response.json()
    except ValueError:
        answer = response.text
    if capture := row.get("capture"):
        if isinstance(answer, dict) and capture in answer:
            w.values[capture] = str(answer[capture])
    return response.status_code, answer


def main(out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        encoders = load_encoders(tiny_settings(Path(tmp) / "enc"))
        statuses: dict[str, int] = {}
        with world(Path(tmp) / "world", encoders) as w:
            for row in rows():
                statuses[row["id"]] = play(w, row)[0]
    Path(out).write_text(json.dumps(statuses, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
