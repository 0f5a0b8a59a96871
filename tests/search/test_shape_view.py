"""The `shape` view: a descriptor of the normalised line drawing, stored at ingestion, searched by sketch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.embedding import Encoders
from app.embedding.edges import edge_map, normalize_sketch
from app.embedding.shape import (
    DESCRIPTORS,
    PROJECTIONS,
    SHAPE,
    SHAPE_PARAMS,
    SHAPE_VERSION,
    HogParams,
    descriptor_for,
    hog_descriptor,
    shape_descriptor,
    sketch_descriptor,
)
from app.errors import ModelMismatchError
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item
from app.search.hybrid import HybridSearcher, QueryInputs
from app.search.models import HybridQuery
from tests.support.settings import tiny_settings


def _picture(kind: str) -> Image.Image:
    """A coloured clip-art picture: a filled shape with a dark outline on a tinted ground."""
    img = Image.new("RGB", (160, 160), (240, 235, 220))
    d = ImageDraw.Draw(img)
    fill, line = (200, 60, 40), (20, 20, 20)
    match kind:
        case "circle":
            d.ellipse((30, 30, 130, 130), fill=fill, outline=line, width=3)
        case "triangle":
            d.polygon([(25, 135), (80, 25), (135, 135)], fill=fill, outline=line, width=3)
        case "cross":
            d.rectangle((65, 20, 95, 140), fill=fill, outline=line, width=3)
            d.rectangle((20, 65, 140, 95), fill=fill, outline=line, width=3)
        case _:
            raise ValueError(kind)
    return img


def _hand_drawn_triangle() -> Image.Image:
    """The triangle as a person sketches it: thick black strokes on white, smaller, off
    centre, corners a little off and not quite closed."""
    img = Image.new("RGB", (300, 240), "white")
    d = ImageDraw.Draw(img)
    d.line([(40, 200), (118, 52)], fill="black", width=7)
    d.line([(122, 50), (205, 196)], fill="black", width=7)
    d.line([(200, 203), (46, 198)], fill="black", width=7)
    return img


@pytest.fixture
def shapes_library(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "pictures"
    root.mkdir()
    paths = {}
    for kind in ("circle", "triangle", "cross"):
        paths[kind] = root / f"{kind}.png"
        _picture(kind).save(paths[kind])
    return paths


def test_the_stored_descriptor_has_the_documented_size() -> None:
    assert SHAPE_PARAMS.dim == 576
    assert hog_descriptor(_picture("circle")).shape == (SHAPE_PARAMS.dim,)
    assert HogParams(size=128, cell=16, block=2).dim == 1764  # the evaluation baseline's


@pytest.mark.parametrize("version", sorted(DESCRIPTORS))
def test_every_version_gives_unit_vectors_of_its_recorded_size_the_same_every_time(version: str) -> None:
    d = DESCRIPTORS[version]
    drawing = edge_map(_picture("cross"))
    first = d.describe(drawing)
    assert first.shape == (d.record()["dim"],) and first.dtype == np.float32
    assert float(np.linalg.norm(first)) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(first, d.describe(drawing.copy()))
    assert np.isfinite(d.describe(Image.new("RGB", (224, 224), "white"))).all(), "a blank drawing too"


def test_the_current_version_keeps_the_stored_size_so_a_backfill_rewrites_in_place() -> None:
    assert SHAPE.dim == DESCRIPTORS["hog-5x5-v1"].dim == 576
    assert SHAPE.version == SHAPE_VERSION != "hog-5x5-v1"
    assert not np.allclose(shape_descriptor(edge_map(_picture("cross"))), hog_descriptor(edge_map(_picture("cross"))))


def test_the_shipped_projection_is_the_file_its_provenance_describes() -> None:
    import hashlib
    import json

    assert SHAPE.projection is not None
    path = PROJECTIONS / SHAPE.projection
    provenance = json.loads(path.with_suffix(".json").read_text())
    assert provenance["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert SHAPE.record()["projection_sha256"] == provenance["sha256"]
    assert provenance["fitted_on"].startswith("the tune split only")
    assert path.stat().st_size < 3_000_000, "a small file"


def test_an_unknown_recorded_version_is_refused_with_the_known_ones() -> None:
    assert descriptor_for(None) is SHAPE and descriptor_for("hog-5x5-v1") is DESCRIPTORS["hog-5x5-v1"]
    with pytest.raises(ModelMismatchError, match="hog-9x9-v7") as refused:
        descriptor_for("hog-9x9-v7")
    assert SHAPE_VERSION in refused.value.message and refused.value.status_code == 409


def test_a_blank_drawing_gets_a_uniform_unit_descriptor_not_zeros() -> None:
    vec = hog_descriptor(Image.new("RGB", (224, 224), "white"))
    assert float(np.linalg.norm(vec)) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(vec, vec[0])


@pytest.mark.parametrize("version", sorted(DESCRIPTORS))
def test_a_hand_drawn_triangle_is_closest_to_the_triangle_picture_in_every_version(version: str) -> None:
    sketch = shape_descriptor(normalize_sketch(_hand_drawn_triangle()), version)
    scores = {
        k: float(sketch @ shape_descriptor(edge_map(_picture(k)), version)) for k in ("circle", "triangle", "cross")
    }
    assert max(scores, key=scores.__getitem__) == "triangle", scores


def test_a_hand_drawn_triangle_is_closest_to_the_triangle_picture_by_hog() -> None:
    sketch = sketch_descriptor(_hand_drawn_triangle())
    from app.embedding.shape import picture_descriptor

    scores = {k: float(sketch @ picture_descriptor(_picture(k))) for k in ("circle", "triangle", "cross")}
    assert max(scores, key=scores.__getitem__) == "triangle", scores


def test_ingestion_stores_a_shape_vector_for_every_point_and_a_sketch_with_only_wshape_finds_the_triangle(
    encoders: Encoders, store_factory: Any, shapes_library: dict[str, Path], tmp_path: Path
) -> None:
    store = store_factory()
    root = next(iter(shapes_library.values())).parent
    items = [Item(path=p, tags=[k]) for k, p in shapes_library.items()]
    report = Ingestor(encoders, store, IngestOptions(images_root=root)).run(items)
    assert report.ingested == 3
    points = store.retrieve(report.ids, with_vectors=True)
    assert all(p.vectors["shape"].shape == (SHAPE_PARAMS.dim,) for p in points)
    assert all(p.payload["shape_version"] == encoders.space()["shape"]["version"] for p in points)
    assert store.vector_sizes()["shape"] == SHAPE_PARAMS.dim

    searcher = HybridSearcher(encoders, store, tiny_settings(tmp_path))
    q = HybridQuery(w_img=0, w_edge=0, w_txt=0, w_tags=0, w_shape=1, limit=3)
    result = searcher.search(q, QueryInputs(sketch=_hand_drawn_triangle()))
    assert [h.path for h in result.hits][0] == "triangle.png"
    assert result.weights == {"shape": 1.0}
    top = result.hits[0].views["shape"]
    assert top.raw is not None and top.raw > result.hits[1].views["shape"].raw  # type: ignore[operator]

    # An example picture feeds `shape` too (through its edge map): it finds itself.
    with Image.open(shapes_library["cross"]) as img:
        by_image = searcher.search(q, QueryInputs(image=img.convert("RGB")))
    assert by_image.hits[0].path == "cross.png"


def test_default_weights_leave_the_shape_view_out(encoders: Encoders, tmp_path: Path) -> None:
    from app.storage.edge import EdgeStore

    q = HybridQuery()
    assert q.w_shape == 0.0
    store = EdgeStore(tmp_path / "q", "c")
    try:
        searcher = HybridSearcher(encoders, store, tiny_settings(tmp_path))
        enc = searcher.encode(QueryInputs(sketch=_hand_drawn_triangle()), views=("edge",))
        assert "shape" not in enc.vectors(), "no HOG is computed for a view that is not searched"
    finally:
        store.close()


def test_a_collection_of_the_old_version_still_answers_with_queries_described_its_way(
    encoders: Encoders, store_factory: Any, shapes_library: dict[str, Path], tmp_path: Path
) -> None:
    """Until `clippy backfill --which shape` runs, a collection of `hog-5x5-v1` keeps its
    vectors: a sketch must be described with that version, not the current one."""
    old = DESCRIPTORS["hog-5x5-v1"]
    store = store_factory()
    root = next(iter(shapes_library.values())).parent
    items = [Item(path=p, tags=[k]) for k, p in shapes_library.items()]
    ids = Ingestor(encoders, store, IngestOptions(images_root=root)).run(items).ids
    # As the previous release wrote it: old descriptors, old version in payload and space.
    from app.storage.types import PointRecord

    points = store.retrieve(ids)
    store.update_vectors(
        [
            PointRecord(
                p.id,
                {"shape": old.describe(edge_map(Image.open(root / p.payload["path"]).convert("RGB"))).tolist()},
                {},
            )
            for p in points
        ]
    )
    store.set_payload(ids, {"shape_version": old.version})
    store.set_space({**(store.space() or {}), "shape": old.record()})

    searcher = HybridSearcher(encoders, store, tiny_settings(tmp_path))
    assert searcher.shape_descriptor() is old
    enc = searcher.encode(QueryInputs(sketch=_hand_drawn_triangle()), views=("shape",))
    np.testing.assert_allclose(enc.positives["shape"][0], old.describe(normalize_sketch(_hand_drawn_triangle())))
    q = HybridQuery(w_img=0, w_edge=0, w_txt=0, w_tags=0, w_shape=1, limit=3)
    result = searcher.search(q, QueryInputs(sketch=_hand_drawn_triangle()))
    assert result.hits[0].path == "triangle.png"
    assert result.hits[0].views["shape"].raw == pytest.approx(
        float(enc.positives["shape"][0] @ old.describe(edge_map(_picture("triangle")))), abs=1e-4
    )

    from app.ingest.backfill import backfill

    assert backfill(encoders, store, root, "shape").updated["shape"] == 3
    fresh = HybridSearcher(encoders, store, tiny_settings(tmp_path))
    assert fresh.shape_descriptor() is SHAPE, "after the backfill queries use the current version"
    assert fresh.search(q, QueryInputs(sketch=_hand_drawn_triangle())).hits[0].path == "triangle.png"
