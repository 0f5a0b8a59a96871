"""`clippy models pull` and `clippy doctor` against a local Hugging Face-compatible hub
(tests/support/hub.py): the real huggingface_hub download, cache and checksum code runs
offline, then the service loads what was pulled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.generation import png
from tests.support.hub import LocalHub, local_hub
from tests.support.images import SHAPE_TAGS, shape_image
from tests.support.settings import tiny_settings
from tests.support.tiny_sdxl import IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT_NAME, TinySdxl, build_tiny_sdxl
from tests.support.tiny_text import build_tiny_text_model

REPO = Path(__file__).resolve().parents[2]
# The hub repo open_clip reads for ViT-B-32 laion2b_s34b_b79k (a stand-in file: pull and
# doctor only fetch and check it; nothing loads it).
OPENCLIP_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"


@pytest.fixture(scope="module")
def sdxl_folders(tmp_path_factory: pytest.TempPathFactory) -> TinySdxl:
    return build_tiny_sdxl(tmp_path_factory.mktemp("tiny-sdxl"))


@pytest.fixture(scope="module")
def text_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_text_model(tmp_path_factory.mktemp("tiny-text"))


@pytest.fixture
def hub(
    tmp_path: Path, tiny_blip: Path, tiny_vlm: Path, sdxl_folders: TinySdxl, text_folder: Path
) -> Iterator[LocalHub]:
    clip = tmp_path / "clip-repo"
    clip.mkdir()
    (clip / "open_clip_model.safetensors").write_bytes(os.urandom(4096))
    (clip / "open_clip_config.json").write_text("{}")
    repos = {
        "tiny/blip": tiny_blip,
        "tiny/sdxl": sdxl_folders.model_dir,
        "tiny/ip-adapter": sdxl_folders.ip_adapter_dir,
        OPENCLIP_REPO: clip,
        "tiny/text": text_folder,
        "tiny/vlm": tiny_vlm,
    }
    with local_hub(repos) as served:
        yield served


def _env(hub: LocalHub, cache: Path, *, offline: bool) -> dict[str, str]:
    # HF_ENDPOINT is read when huggingface_hub is imported: the commands run in a subprocess.
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_ENDPOINT": hub.url,
        "HF_HUB_OFFLINE": "1" if offline else "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "MODEL_CACHE_DIR": str(cache),
        "HF_HUB_CACHE": str(cache.parent / "hf-default"),
        "MODEL_NAME": "ViT-B-32",
        "PRETRAINED": "laion2b_s34b_b79k",
        "TEXT_MODEL": "clip",
        "DESCRIBE_MODEL": "tiny/blip",
        "STORY_MODEL": "tiny/vlm",
        "SDXL_MODEL": "tiny/sdxl",
        "IP_ADAPTER_MODEL": "tiny/ip-adapter",
        "IP_ADAPTER_SUBFOLDER": IP_ADAPTER_SUBFOLDER,
        "IP_ADAPTER_WEIGHT_NAME": IP_ADAPTER_WEIGHT_NAME,
        "GOOGLE_CLOUD_PROJECT": "",
    }


def clippy(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd: a folder without the checkout's .env, so only `env` decides the settings.
    return subprocess.run(
        [sys.executable, "-m", "app.commands", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _doctor(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    r = clippy(["doctor", "--json"], env, cwd)
    assert r.returncode == 0, r.stderr
    report: dict[str, Any] = json.loads(r.stdout)
    return {p["name"]: p for p in report["pieces"]} | {"_providers": report["providers"]}


@pytest.mark.timeout(600)
def test_pull_then_doctor_says_present_then_the_service_loads_what_was_pulled(
    hub: LocalHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    before = _doctor(_env(hub, cache, offline=True), tmp_path)
    assert not before["describe"]["available"] and "clippy models pull describe" in before["describe"]["reason"]
    assert before["_providers"]["sdxl"]["available"] is False

    r = clippy(["models", "pull"], _env(hub, cache, offline=False), tmp_path)
    assert r.returncode == 0, r.stderr
    for repo in ("tiny/blip", "tiny/sdxl", "tiny/ip-adapter", "tiny/vlm", OPENCLIP_REPO):
        assert f"{repo} ok" in r.stdout, r.stdout
    # Only what the loaders read: IP-Adapter's weight file and image encoder, open_clip's one file.
    ip_files = set(hub.downloads("tiny/ip-adapter"))
    assert f"{IP_ADAPTER_SUBFOLDER}/{IP_ADAPTER_WEIGHT_NAME}" in ip_files
    assert all(
        f == f"{IP_ADAPTER_SUBFOLDER}/{IP_ADAPTER_WEIGHT_NAME}"
        or f.startswith(f"{IP_ADAPTER_SUBFOLDER}/image_encoder/")
        for f in ip_files
    ), ip_files
    assert hub.downloads(OPENCLIP_REPO) == ["open_clip_model.safetensors"]
    assert not (tmp_path / "hf-default").exists()  # MODEL_CACHE_DIR wins over the default cache

    after = _doctor(_env(hub, cache, offline=True), tmp_path)
    for name in ("openclip", "describe", "sdxl", "ip_adapter", "story"):
        assert after[name]["present"] and after[name]["available"], after[name]
    assert all(after["_providers"][p]["available"] for p in ("describe", "sdxl", "story")), after["_providers"]

    # A second pull finds everything on disk and downloads nothing.
    sent = len(hub.requests)
    again = clippy(["models", "pull"], _env(hub, cache, offline=False), tmp_path)
    assert again.returncode == 0 and "on disk" in again.stderr and len(hub.requests) == sent

    # The service, offline, loads what was pulled: describe answers from the cached BLIP and
    # the SDXL provider (with its IP-Adapter) loads from the cache.
    from app.api.app import create_app
    from app.generation.sdxl import SdxlProvider

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = tiny_settings(
        tmp_path,
        MODEL_CACHE_DIR=cache,
        DESCRIBE_MODEL="tiny/blip",
        SDXL_MODEL="tiny/sdxl",
        IP_ADAPTER_MODEL="tiny/ip-adapter",
        IP_ADAPTER_SUBFOLDER=IP_ADAPTER_SUBFOLDER,
        IP_ADAPTER_WEIGHT_NAME=IP_ADAPTER_WEIGHT_NAME,
        GENERATED_ROOT=tmp_path / "generated",
    )
    with TestClient(create_app(settings)) as client:
        providers = client.get("/info").json()["providers"]
        assert providers["describe"]["available"] and providers["sdxl"]["available"], providers
        described = client.post("/images/describe", files={"image": ("a.png", png((200, 30, 30)), "image/png")})
        assert described.status_code == 200, described.text
        assert described.json()["model"] == "tiny/blip" and isinstance(described.json()["caption"], str)
    provider = SdxlProvider(settings)
    provider.load()
    provider.close()


def test_a_file_that_does_not_match_the_hubs_checksum_is_removed_and_the_pull_fails(
    hub: LocalHub, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    hub.corrupt.add(("tiny/blip", "model.safetensors"))
    r = clippy(["models", "pull", "describe"], _env(hub, cache, offline=False), tmp_path)
    assert r.returncode == 1 and "model.safetensors does not match the hub's sha256" in r.stderr, r.stderr
    assert not list(cache.rglob("model.safetensors"))  # removed: nothing corrupt stays in the cache
    hub.corrupt.clear()
    r = clippy(["models", "pull", "describe"], _env(hub, cache, offline=False), tmp_path)
    assert r.returncode == 0 and "tiny/blip ok" in r.stdout, r.stderr


def test_pull_refuses_an_unknown_piece_and_both_commands_explain_themselves(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = clippy(["models", "pull", "nonsense"], env, tmp_path)
    assert r.returncode == 2 and "nonsense" in r.stderr and "describe" in r.stderr
    help_pull = clippy(["models", "pull", "--help"], env, tmp_path).stdout
    assert "checksum" in help_pull and "MODEL_CACHE_DIR" in help_pull and "--all" in help_pull
    help_doctor = clippy(["doctor", "--help"], env, tmp_path).stdout
    assert "--json" in help_doctor and "without downloading" in help_doctor


def test_a_pulled_text_model_serves_text_search(hub: LocalHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    env = _env(hub, cache, offline=False) | {"TEXT_MODEL": "tiny/text"}
    r = clippy(["models", "pull", "text"], env, tmp_path)
    assert r.returncode == 0 and "tiny/text ok" in r.stdout, r.stderr
    assert _doctor(env | {"HF_HUB_OFFLINE": "1"}, tmp_path)["text"]["present"]

    # Offline, the service loads the pulled text model for the `text` view, seeds a small
    # library with it and answers a text search.
    import json as json_

    from app.api.app import create_app

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = tmp_path / "images"
    root.mkdir()
    rows = []
    for i in range(6):
        shape_image(i % 3, i).save(root / f"img_{i}.png")
        rows.append({"path": f"img_{i}.png", "tags": list(SHAPE_TAGS[i % 3])})
    (root / "manifest.jsonl").write_text("\n".join(json_.dumps(r) for r in rows))
    settings = tiny_settings(
        tmp_path, TEXT_MODEL="tiny/text", MODEL_CACHE_DIR=cache, IMAGES_ROOT=root, AUTO_INGEST=True
    )
    with TestClient(create_app(settings)) as client:
        info = client.get("/info").json()
        assert info["running"]["textModel"] == "tiny/text" and info["points"] == 6
        out = client.post("/search/hybrid", json={"queryText": SHAPE_TAGS[0][0], "limit": 3, "wTxt": 1, "wImg": 0})
    assert out.status_code == 200, out.text
    assert len(out.json()["hits"]) == 3 and "text" in out.json()["weights"]
