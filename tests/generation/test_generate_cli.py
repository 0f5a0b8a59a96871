"""`clippy generate`: a provider run without the server, through the API's own generation
service (its checks, ref resolution and `generate` job), on the tiny SDXL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from app.commands import app as clippy
from app.commands.generate import parse_ref, run_generation
from app.config import Settings
from app.generation.sdxl import SdxlProvider
from app.generation.service import Upload
from app.storage.edge import EdgeStore
from app.storage.schema import TENANT_FIELD, CollectionSchema
from app.storage.types import PointRecord
from tests.generation.test_edits import mask, picture
from tests.generation.test_sdxl_provider import LAYOUT_BLOCK, STYLE_BLOCK, Spy
from tests.support.generation import png

LIBRARY_ID = "00000000-0000-0000-0000-000000000007"


@pytest.fixture
def env(tiny_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny SDXL's settings, and a store holding one library image (a red square)."""
    images = tmp_path / "images"
    images.mkdir()
    (images / "red.png").write_bytes(png((220, 30, 30)))
    store = EdgeStore(tmp_path / "qdrant", "c")
    store.ensure(CollectionSchema(4, 4, {"model": "m", "pretrained": "p"}), writing=True)
    store.upsert([PointRecord(LIBRARY_ID, {"image": [1.0, 0, 0, 0]}, {"path": "red.png", TENANT_FIELD: "default"})])
    store.close()
    values = {
        **tiny_env,
        "DEVICE": "cpu",
        "SDXL_DEFAULT_STEPS": "2",
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "QDRANT_URL": "",
        "COLLECTION": "c",
        "IMAGES_ROOT": str(images),
        "GENERATED_ROOT": str(tmp_path / "server-generated"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def test_generates_with_refs_by_id_and_by_file(env: Path) -> None:
    blue = env / "blue.png"
    blue.write_bytes(png((30, 30, 220)))
    out = env / "out" / "picture.png"
    args = ["generate", "--prompt", "a red fox", "--out", str(out), "--width", "64", "--height", "64"]
    args += ["--ref", f"style:{LIBRARY_ID}:0.7", "--ref", f"subject:{blue}:0.6", "--seed", "11", "--no-progress"]
    done = CliRunner().invoke(clippy, args)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["files"] == [str(out)] and summary["provider"] == "sdxl" and summary["seed"] == 11
    with Image.open(out) as picture:
        assert picture.size == (64, 64)
    # Nothing left in the server's GENERATED_ROOT: the run used its own scratch folder.
    assert not (env / "server-generated").exists()


def test_bad_input_is_refused_as_the_api_refuses_it(env: Path) -> None:
    runner = CliRunner()
    base = ["generate", "--prompt", "x", "--out", str(env / "o.png"), "--no-progress", "--height", "64"]
    unknown = runner.invoke(clippy, [*base, "--width", "64", "--ref", "style:00000000-0000-0000-0000-0000000000ff:0.5"])
    assert unknown.exit_code == 2 and "no library image" in unknown.stderr
    too_wide = runner.invoke(clippy, [*base, "--width", "512"])
    assert too_wide.exit_code == 2 and "at most 256" in too_wide.stderr
    no_file = runner.invoke(clippy, [*base, "--ref", "style:missing.png"])
    assert no_file.exit_code == 2 and "not a library id" in no_file.output
    assert not (env / "o.png").exists()


def test_parse_ref_keeps_url_colons_and_reads_the_weight() -> None:
    uploads: list[Upload] = []
    assert parse_ref("style:https://img.test:8443/a.png:0.7", uploads) == {
        "role": "style",
        "url": "https://img.test:8443/a.png",
        "weight": 0.7,
    }
    assert parse_ref("subject:https://img.test/a.png", uploads) == {"role": "subject", "url": "https://img.test/a.png"}
    assert parse_ref(f"style:{LIBRARY_ID}", uploads) == {"role": "style", "id": LIBRARY_ID}
    assert uploads == []


def test_refs_reach_the_pipeline_with_their_roles_and_weights(
    sdxl: SdxlProvider, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = Spy(sdxl._pipe)
    monkeypatch.setattr(sdxl, "_pipe", text)
    (tmp_path / "a.png").write_bytes(png((200, 0, 0)))
    (tmp_path / "b.png").write_bytes(png((0, 200, 0)))
    uploads: list[Upload] = []
    refs = [
        parse_ref(f"style:{tmp_path / 'a.png'}:0.7", uploads),
        parse_ref(f"subject:{tmp_path / 'b.png'}:0.6", uploads),
    ]
    body: dict[str, Any] = {"prompt": "a fox", "refs": refs, "width": 64, "height": 64, "seed": 3}
    result = asyncio.run(
        run_generation(settings, body, uploads, None, None, lambda i: Path(i), providers={"sdxl": sdxl}, poll_s=0.01)
    )
    assert result["seed"] == 3 and len(result["images"]) == 1
    (call,) = text.calls
    # One IP-Adapter, one scale per image: the style ref on the style block only, the subject
    # ref on the layout block too.
    assert [len(slot) for slot in call["ip_adapter_image"]] == [2]
    scales = text.scales[0]
    assert scales[STYLE_BLOCK] == [pytest.approx([0.7, 0.6])]
    assert scales[LAYOUT_BLOCK] == [pytest.approx([0.0, 0.6])]


def test_an_edit_with_base_and_mask_keeps_what_the_mask_keeps(env: Path) -> None:
    base, keep_mask = picture(), mask()
    base.save(env / "base.png")
    keep_mask.save(env / "mask.png")
    out = env / "edited.png"
    args = ["generate", "--prompt", "a door", "--base", str(env / "base.png"), "--mask", str(env / "mask.png")]
    args += ["--width", "64", "--height", "64", "--strength", "0.99"]
    done = CliRunner().invoke(clippy, [*args, "--out", str(out), "--seed", "5", "--no-progress"])
    assert done.exit_code == 0, done.output
    with Image.open(out) as edited:
        diff = np.abs(np.asarray(edited.convert("RGB"), dtype=np.int16) - np.asarray(base, dtype=np.int16)).max(axis=-1)
    keep = np.asarray(keep_mask) == 0
    assert diff[keep].max() <= 1 and diff[~keep].mean() > 20
