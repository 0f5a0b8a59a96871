"""Adapter heads: identity at start, InfoNCE training recovers a hidden rotation, files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.embedding.adapter import Adapter, load_adapter, save_adapter
from app.library.adapter import TrainConfig, split_by_key, text_to_image_metrics, train_adapter


def rotated_pairs(n: int = 400, dim: int = 32, noise: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Image vectors, and text vectors = a fixed random rotation of them plus noise."""
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(n, dim)).astype(np.float32)
    image /= np.linalg.norm(image, axis=1, keepdims=True)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    text = image @ rotation + noise * rng.normal(size=(n, dim)) / np.sqrt(dim)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    return image, text.astype(np.float32)


def test_heads_start_as_the_identity() -> None:
    image, text = rotated_pairs(10)
    adapter = Adapter(32, 32)
    assert np.allclose(adapter.project("text", text), text, atol=1e-6)
    assert np.allclose(adapter.project("image", image), image, atol=1e-6)
    with pytest.raises(ValueError, match="`head` must be one of"):
        adapter.project("edge", image)


def test_metrics_count_every_image_of_a_shared_text_as_relevant() -> None:
    image = np.eye(3, dtype=np.float32)
    text = np.array([[1, 0.5, 0], [1, 0.5, 0], [0, 0, 1]], dtype=np.float32)
    m = text_to_image_metrics(text, image, ["a", "a", "b"])
    assert m == {"MRR": 1.0, "mAP": 1.0, "queries": 2.0}
    swapped = text_to_image_metrics(text, image, ["a", "b", "a"])
    assert swapped["MRR"] == pytest.approx((1 + 1 / 2) / 2)


def test_the_split_keeps_each_text_on_one_side() -> None:
    keys = ["a", "a", "b", "c", "c", "d", "e"]
    train, val = split_by_key(keys, 0.4, seed=1)
    assert sorted([*train, *val]) == list(range(7))
    assert not {keys[i] for i in train} & {keys[i] for i in val}
    with pytest.raises(ValueError, match="at least 2 distinct texts"):
        split_by_key(["a", "a"], 0.5, seed=0)


def test_training_recovers_a_hidden_rotation_on_held_out_pairs() -> None:
    image, text = rotated_pairs()
    keys = [f"item {i}" for i in range(len(image))]
    result = train_adapter(image, text, keys, TrainConfig(epochs=60, batch_size=128, lr=1e-2, seed=0))
    before, after = result.before["validation"], result.after["validation"]
    assert result.n_val == 80 and before["queries"] == 80
    assert before["MRR"] < 0.2, "a random rotation hides the pairs from the frozen baseline"
    assert after["MRR"] > before["MRR"] + 0.5 and after["mAP"] > before["mAP"] + 0.5
    assert result.losses[-1] < result.losses[0]


def test_training_is_deterministic_for_a_seed() -> None:
    image, text = rotated_pairs(120)
    keys = [f"k{i % 60}" for i in range(120)]
    a = train_adapter(image, text, keys, TrainConfig(epochs=5, seed=3))
    b = train_adapter(image, text, keys, TrainConfig(epochs=5, seed=3))
    assert a.after == b.after and a.losses == b.losses


def test_a_text_tower_of_another_dimension_starts_from_the_ridge_map() -> None:
    image, text = rotated_pairs(200, dim=16)
    wide = np.hstack([text, np.zeros((200, 8), dtype=np.float32)])  # 24-dim text, 16-dim image
    keys = [f"item {i}" for i in range(200)]
    result = train_adapter(image, wide, keys, TrainConfig(epochs=20, lr=1e-2, heads=("text",)))
    assert result.before["validation"]["MRR"] > 0.5, "the closed-form start already aligns them"
    assert result.after["validation"]["MRR"] >= result.before["validation"]["MRR"] - 0.05
    assert np.allclose(result.adapter.project("image", image), image, atol=1e-6), "the image head was frozen"


def test_saved_adapters_load_back_with_their_metadata(tmp_path: Path) -> None:
    image, text = rotated_pairs(60)
    result = train_adapter(image, text, [str(i) for i in range(60)], TrainConfig(epochs=2))
    meta: dict[str, Any] = {"model": "clippy-tiny", "epochs": 2, "metrics": {"after": result.after}}
    weights, sidecar = save_adapter(result.adapter, tmp_path / "ad" / "tags", meta)
    assert weights.name == "tags.safetensors" and json.loads(sidecar.read_text())["imageDim"] == 32
    loaded, loaded_meta = load_adapter(tmp_path / "ad" / "tags")
    assert loaded_meta["model"] == "clippy-tiny"
    assert np.allclose(loaded.project("text", text), result.adapter.project("text", text), atol=1e-6)


def test_finetune_script_trains_on_a_collection_and_writes_table_and_files(
    planted: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import finetune_adapter
    from tests.support.settings import TINY_MODEL

    for key, value in TINY_MODEL.items():
        monkeypatch.setenv(key, value)
    settings = planted["settings"]
    args = [
        "--collection",
        settings.COLLECTION,
        "--adapters-root",
        str(tmp_path / "adapters"),
        "--epochs",
        "3",
        "--name",
        "tags",
        "--report",
        str(tmp_path / "report.json"),
        "--val-fraction",
        "0.3",
    ]
    assert finetune_adapter.main(args, store=planted["store"]) == 0
    out = capsys.readouterr().out
    assert "MRR before" in out and "validation" in out
    report = json.loads((tmp_path / "report.json").read_text())
    enable = str(tmp_path / "adapters" / settings.COLLECTION / "tags")
    assert report["enable"] == {"ADAPTER": enable}, "outside ADAPTERS_ROOT the setting names the path"
    assert f"set ADAPTER={enable} and re-embed" in out and "clippy ingest" in out
    assert report["model"] == "clippy-tiny" and report["textSource"] == "clip" and report["epochs"] == 3
    assert set(report["metrics"]["after"]) == {"train", "validation"}
    assert (tmp_path / "adapters" / settings.COLLECTION / "tags.safetensors").is_file()
    stored = ["--text-source", "stored", "--heads", "text", *args]
    assert finetune_adapter.main(stored, store=planted["store"]) == 0
    assert json.loads((tmp_path / "report.json").read_text())["textSource"] == "stored"


# --- the adapter as a product feature: setting ADAPTER, applied at ingest and query ------------


def shape_items(root: Path, indices: range) -> list[Any]:
    from app.ingest.sources import Item
    from tests.support.images import SHAPE_TAGS, shape_image

    items = []
    for i in indices:
        path = root / f"shape_{i:02d}.png"
        shape_image(i % 3, i).save(path)
        items.append(Item(path, SHAPE_TAGS[i % 3]))
    return items


@pytest.fixture(scope="module")
def adapted(tmp_path_factory: pytest.TempPathFactory, encoders: Any) -> Any:
    """An adapter trained on the synthetic rotation set, saved under ADAPTERS_ROOT/plain/tags,
    enabled by the setting; a collection ingested without it (`plain`) and one with it."""
    import torch

    from app.embedding import load_encoders
    from app.embedding.cache import EmbeddingCache
    from app.ingest.pipeline import IngestOptions, Ingestor
    from app.storage.edge import EdgeStore
    from tests.support.settings import tiny_settings

    tmp = tmp_path_factory.mktemp("adapted")
    image, text = rotated_pairs(dim=encoders.clip.dim)
    result = train_adapter(image, text, [f"item {i}" for i in range(len(image))], TrainConfig(epochs=20, lr=1e-2))
    meta = {
        "name": "tags",
        "model": "clippy-tiny",
        "pretrained": "random",
        "textModel": "clip",
        "heads": ["image", "text"],
    }
    save_adapter(result.adapter, tmp / "adapters" / "plain" / "tags", meta)
    settings = tiny_settings(tmp, ADAPTERS_ROOT=tmp / "adapters", ADAPTER="plain/tags", COLLECTION="tuned")
    torch.manual_seed(0)
    adapted_encoders = load_encoders(settings)
    (tmp / "images").mkdir()
    items = shape_items(tmp / "images", range(6))
    cache = EmbeddingCache(settings.EMBED_CACHE_PATH, encoders.space())
    plain = EdgeStore(settings.QDRANT_PATH, "plain")
    Ingestor(encoders, plain, IngestOptions(images_root=tmp / "images", cache=cache)).run(items[:4])
    tuned = EdgeStore(settings.QDRANT_PATH, "tuned")
    forwards: list[int] = []
    real = adapted_encoders.clip.encode_preprocessed

    def counted(batch: Any) -> np.ndarray:
        forwards.append(len(batch))
        return real(batch)

    adapted_encoders.clip.encode_preprocessed = counted
    report = Ingestor(adapted_encoders, tuned, IngestOptions(images_root=tmp / "images", cache=cache)).run(items)
    adapted_encoders.clip.encode_preprocessed = real
    yield {
        "settings": settings,
        "encoders": adapted_encoders,
        "adapter": result.adapter,
        "plain": plain,
        "tuned": tuned,
        "items": items,
        "report": report,
        "forwards": sum(forwards),
    }
    cache.close()
    plain.close()
    tuned.close()


def test_the_adapter_setting_loads_the_trained_heads_into_the_embedding_space(adapted: dict[str, Any]) -> None:
    enc = adapted["encoders"]
    assert enc.adapter is not None and enc.adapter.identity["name"] == "tags"
    assert enc.space()["adapter"] == enc.adapter.identity and enc.adapter.identity["heads"] == ["image", "text"]
    assert len(enc.adapter.identity["sha256"]) == 16
    assert adapted["tuned"].space()["adapter"] == enc.adapter.identity, "the collection records it"


def test_ingest_stores_projected_picture_vectors_and_leaves_edge_and_text_raw(adapted: dict[str, Any]) -> None:
    from app.imaging import load_image_file

    enc, adapter, items = adapted["encoders"], adapted["adapter"], adapted["items"]
    assert adapted["report"].ingested == 6
    assert adapted["forwards"] == 4, "the 4 files the plain collection cached ran no model: 2 new × (picture, edge)"
    ids = adapted["report"].ids
    stored = {p.payload["path"]: p.vectors for p in adapted["tuned"].retrieve(ids, with_vectors=True)}
    plain = {p.payload["path"]: p.vectors for p in adapted["plain"].scroll(limit=10, with_vectors=True)[0]}
    pictures = [load_image_file(it.path, max_bytes=1 << 24, max_pixels=1 << 24) for it in items]
    raw_image = enc.clip.encode_images(pictures)
    raw_text = enc.text.encode_texts([enc.tags_text(it.tags) for it in items])
    for i, it in enumerate(items):
        got = stored[it.path.name]
        assert np.allclose(got["image"], adapter.project("image", raw_image[i]), atol=1e-5)
        assert not np.allclose(got["image"], raw_image[i], atol=1e-2), "the trained head moved the vector"
        assert np.linalg.norm(got["image"]) == pytest.approx(1, abs=1e-5)
        assert np.allclose(got["text"], raw_text[i], atol=1e-5), "no head was trained on the `text` view"
        if it.path.name in plain:  # cached raw vectors: projected after the cache, edge kept as is
            assert np.allclose(got["image"], adapter.project("image", np.asarray(plain[it.path.name]["image"])))
            assert np.allclose(got["edge"], plain[it.path.name]["edge"], atol=1e-6)
    assert len(plain) == 4


def test_a_text_query_reaches_the_image_view_through_the_text_head(adapted: dict[str, Any]) -> None:
    from app.search.hybrid import HybridSearcher, QueryInputs
    from app.search.models import HybridQuery

    enc, adapter = adapted["encoders"], adapted["adapter"]
    searcher = HybridSearcher(enc, adapted["tuned"], adapted["settings"])
    query = searcher.encode(QueryInputs(text="a round circle"), {"image", "text"})
    raw = enc.clip.encode_texts(["a round circle"])[0]
    assert np.allclose(query.positives["image"][0], adapter.project("text", raw), atol=1e-5)
    assert not np.allclose(query.positives["image"][0], raw, atol=1e-2)
    assert np.allclose(query.positives["text"][0], raw, atol=1e-5), "the `text` view keeps the raw tower"
    result = searcher.search(
        # `wImg` sent: with random weights the text query's defaults leave the `image` view out.
        HybridQuery.model_validate({"queryText": "a round circle", "wImg": 1, "limit": 3}),
        QueryInputs(text="a round circle"),
    )
    assert len(result.hits) == 3


def test_a_collection_and_a_service_that_disagree_on_the_adapter_refuse_each_other(adapted: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    from app.api.app import create_app
    from app.errors import ModelMismatchError
    from app.ingest.pipeline import IngestOptions, Ingestor
    from app.services import Services

    settings = adapted["settings"].model_copy(update={"COLLECTION": "plain"})
    services = Services.open(settings, encoders=adapted["encoders"], store=adapted["plain"])
    assert isinstance(services.space.problem, ModelMismatchError)
    with TestClient(create_app(settings, services)) as client:
        r = client.post("/search/hybrid", json={"queryText": "circle"})
    assert r.status_code == 409 and r.json()["code"] == "model_mismatch"
    message = r.json()["detail"]
    assert "adapter: collection has None" in message and "re-ingest" in message and "ADAPTER" in message
    with pytest.raises(ModelMismatchError, match="re-ingest"):
        Ingestor(adapted["encoders"], adapted["plain"], IngestOptions())
    from app.embedding import Encoders

    frozen = adapted["encoders"]
    without = Encoders(clip=frozen.clip, text=frozen.text, text_template=frozen.text_template)
    with pytest.raises(ModelMismatchError, match="Set ADAPTER to the collection's"):
        Ingestor(without, adapted["tuned"], IngestOptions())


def test_adapter_names_resolve_under_the_root_and_a_miss_lists_the_available_ones(adapted: dict[str, Any]) -> None:
    from app.embedding.adapter import resolve_adapter
    from app.errors import WeightsUnavailableError

    root = adapted["settings"].ADAPTERS_ROOT
    stem = root / "plain" / "tags"
    assert resolve_adapter("tags", root, "plain") == stem
    assert resolve_adapter("plain/tags", root, "tuned") == stem
    assert resolve_adapter(str(stem.with_suffix(".safetensors")), root, "tuned") == stem
    with pytest.raises(WeightsUnavailableError, match=r"Available under ADAPTERS_ROOT .*\['plain/tags'\]"):
        resolve_adapter("tags", root, "tuned")


def test_an_adapter_trained_for_other_towers_is_refused(tmp_path: Path) -> None:
    from app.embedding.adapter import open_adapter
    from app.errors import ModelMismatchError

    save_adapter(Adapter(32, 32), tmp_path / "a", {"model": "ViT-B-32", "pretrained": "openai", "textModel": "clip"})
    with pytest.raises(ModelMismatchError, match="model: adapter has 'ViT-B-32', running 'clippy-tiny'"):
        open_adapter(
            tmp_path / "a", model="clippy-tiny", pretrained="openai", image_dim=32, text_model="clip", text_dim=32
        )
    with pytest.raises(ModelMismatchError, match="imageDim: adapter has 32, running 64"):
        open_adapter(
            tmp_path / "a", model="ViT-B-32", pretrained="openai", image_dim=64, text_model="clip", text_dim=64
        )


def test_finetune_script_says_how_to_enable_the_adapter_and_refuses_an_adapted_collection(
    adapted: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    import finetune_adapter

    with pytest.raises(SystemExit):
        finetune_adapter.parse_args(["--help"])
    assert "ADAPTER=<COLLECTION>/<name>" in capsys.readouterr().out
    args = ["--collection", "tuned", "--adapters-root", str(adapted["settings"].ADAPTERS_ROOT)]
    assert finetune_adapter.main(args, store=adapted["tuned"]) == 2
    assert "already projected" in capsys.readouterr().err
