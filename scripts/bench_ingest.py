"""Ingestion throughput: how close the full pipeline comes to the bare model.

On N generated images it measures, in one run and with the same model, batch and device:
  (a) the bare image-tower forward rate (tensors prepared beforehand, nothing else running),
  (b) the full pipeline rate (read, hash, decode, Canny, preprocess, two forwards per item,
      text forward, upsert) with worker threads overlapping the model,
  (c) the ratio (b) / (a / 2) — each item needs two forwards (picture and edge map),
and the seed's approach for comparison: batches of 4, each decoded on the main thread before its
forwards (no overlap).
Prints a table and writes JSON.

\b
Example:
  python scripts/bench_ingest.py --n 200 --model ViT-B-32 --pretrained random
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer
from PIL import Image, ImageDraw

from app.cli_common import settings_from_flags, setup_logging
from app.embedding import Encoders, edge_map, load_encoders
from app.embedding.tags import tags_vector
from app.imaging import load_image_file
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item
from app.storage.edge import EdgeStore
from app.storage.schema import CollectionSchema, content_sha256, point_id
from app.storage.types import PointRecord

cli = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None)


def make_images(folder: Path, n: int, size: int, seed: int = 0) -> list[Item]:
    """Shapes, text and noise at `size` px, saved as JPEG like a typical library."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        img = (
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
            if i % 7 == 0
            else Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(180, 256, 3)))
        )
        draw = ImageDraw.Draw(img)
        for _ in range(3):
            x0, y0, x1, y1 = sorted(rng.integers(0, size, 2).tolist()) + sorted(rng.integers(0, size, 2).tolist())
            colour = tuple(int(c) for c in rng.integers(0, 200, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, x1, y0, y1), outline=colour, width=3)
        draw.text((10, 10), f"item {i}", fill=(0, 0, 0))
        path = folder / f"img_{i:05d}.jpg"
        img.save(path, quality=90)
        items.append(Item(path=path, tags=["shape", f"group{i % 10}"]))
    return items


def bare_forward_rate(enc: Encoders, items: list[Item], batch: int) -> float:
    tensors = []
    for it in items:
        img = load_image_file(it.path, max_bytes=1 << 30, max_pixels=1 << 30)
        tensors += [enc.clip.preprocess(img), enc.clip.preprocess(edge_map(img))]
    enc.clip.encode_preprocessed(tensors[:batch])  # warm-up
    started = time.perf_counter()
    for i in range(0, len(tensors), batch):
        enc.clip.encode_preprocessed(tensors[i : i + batch])
    return len(tensors) / (time.perf_counter() - started)


def pipeline_rate(enc: Encoders, items: list[Item], tmp: Path, name: str, **opts: Any) -> float:
    store = EdgeStore(tmp / name, "bench")
    try:
        report = Ingestor(enc, store, IngestOptions(images_root=items[0].path.parent, **opts)).run(items)
        assert report.ingested == len(items), report.summary()
        return report.rate
    finally:
        store.close()


def seed_rate(enc: Encoders, items: list[Item], tmp: Path, batch: int = 4) -> float:
    """The seed's loop, written out: batches of 4, each file read, hashed, decoded and edge-mapped
    on the main thread, then the forwards, then the upsert — the model waits for every decode.
    Same work per item as the pipeline (two image forwards, one text forward, same vectors)."""
    store = EdgeStore(tmp / "seed", "bench")
    store.create(CollectionSchema(enc.clip.dim, enc.text.dim, enc.space()))
    started = time.perf_counter()
    try:
        for i in range(0, len(items), batch):
            chunk = items[i : i + batch]
            data = [it.path.read_bytes() for it in chunk]
            pictures = [load_image_file(it.path, max_bytes=1 << 30, max_pixels=1 << 30) for it in chunk]
            edges = [edge_map(img) for img in pictures]
            image_vecs = enc.clip.encode_images(pictures)
            edge_vecs = enc.clip.encode_images(edges)
            text_vecs = enc.text.encode_texts([enc.tags_text(it.tags, None) for it in chunk])
            store.upsert(
                [
                    PointRecord(
                        id=point_id(content_sha256(raw), "default"),
                        vectors={
                            "image": iv.tolist(),
                            "edge": ev.tolist(),
                            "text": tv.tolist(),
                            "tags": tags_vector(it.tags),
                        },
                        payload={"path": it.path.name, "tags": it.tags},
                    )
                    for it, raw, iv, ev, tv in zip(chunk, data, image_vecs, edge_vecs, text_vecs, strict=True)
                ]
            )
        assert store.count() == len(items)
        return len(items) / (time.perf_counter() - started)
    finally:
        store.close()


@cli.command(help=__doc__)
def main(
    n: Annotated[int, typer.Option(min=8, help="Images to generate and ingest.")] = 200,
    size: Annotated[int, typer.Option(min=64, help="Side of each generated image in pixels.")] = 512,
    model: Annotated[str | None, typer.Option(help="OpenCLIP model (MODEL_NAME).")] = "ViT-B-32",
    pretrained: Annotated[str | None, typer.Option(help="Tag, checkpoint path or `random` (timing only).")] = "random",
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda.")] = None,
    clip_batch: Annotated[int, typer.Option(min=1, help="Images per forward.")] = 32,
    workers: Annotated[int, typer.Option(min=1, help="Decode/edge worker threads.")] = 2,
    skip_seed: Annotated[bool, typer.Option(help="Skip the seed-approach baseline.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for the JSON result.")] = Path("bench/results"),
) -> None:
    setup_logging()
    settings = settings_from_flags(MODEL_NAME=model, PRETRAINED=pretrained, DEVICE=device, TEXT_MODEL="clip")
    enc = load_encoders(settings)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "img").mkdir()
        items = make_images(tmp / "img", n, size)
        forward = bare_forward_rate(enc, items, clip_batch)
        full = pipeline_rate(
            enc, items, tmp, "full", clip_batch=clip_batch, upsert_batch=max(64, clip_batch), workers=workers
        )
        seed = None if skip_seed else seed_rate(enc, items, tmp)
    ceiling = forward / 2  # items/s if the model never waited
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpu_threads": torch.get_num_threads(),
            "device": str(enc.clip.device),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "model": f"{enc.clip.name}/{enc.clip.pretrained}",
        "n": n,
        "size": size,
        "clip_batch": clip_batch,
        "workers": workers,
        "bare_forward_images_per_s": round(forward, 2),
        "ceiling_items_per_s": round(ceiling, 2),
        "pipeline_items_per_s": round(full, 2),
        "ratio": round(full / ceiling, 3),
        "seed_items_per_s": round(seed, 2) if seed else None,
        "speedup_vs_seed": round(full / seed, 2) if seed else None,
    }
    rows = [
        ("bare forward (images/s)", result["bare_forward_images_per_s"]),
        ("ceiling = forward / 2 (items/s)", result["ceiling_items_per_s"]),
        ("full pipeline (items/s)", result["pipeline_items_per_s"]),
        ("ratio pipeline / ceiling", result["ratio"]),
        ("seed approach, batch 4 sequential (items/s)", result["seed_items_per_s"]),
        ("speed-up vs seed", result["speedup_vs_seed"]),
    ]
    typer.echo(f"\n{result['model']} on {result['machine']['device']}, n={n}, batch={clip_batch}, workers={workers}")
    for label, value in rows:
        typer.echo(f"  {label:<44} {value}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"ingest-{result['when'].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2))
    typer.echo(f"\nwrote {path}")


if __name__ == "__main__":
    sys.exit(cli())
