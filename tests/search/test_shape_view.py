"""The `shape` view: HOG of the normalised line drawing, stored at ingestion, searched by sketch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.embedding import Encoders
from app.embedding.shape import SHAPE_PARAMS, HogParams, hog_descriptor, sketch_descriptor
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


def test_a_blank_drawing_gets_a_uniform_unit_descriptor_not_zeros() -> None:
    vec = hog_descriptor(Image.new("RGB", (224, 224), "white"))
    assert float(np.linalg.norm(vec)) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(vec, vec[0])


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
