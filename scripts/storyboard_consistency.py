"""Storyboard consistency with retrieval on vs off: the mean image-view similarity of frames
that share a subject, for the same story and the same seeds.

    python scripts/storyboard_consistency.py [--frames 4] [--seed 7] [--size 512] [--story story.json] [--out r.json]

Settings come from the environment like the server's (GENERATION_PROVIDER, SDXL_MODEL,
MODEL_NAME, …): with the tiny random models (`python -m tests.support.tiny_sdxl --out …`
prints their settings) it runs on a CPU in seconds and the figure says only that the
machinery works; with real weights it measures what retrieval buys. It runs the real
service (Services.open, POST /storyboards through the app) in a scratch folder: the
library, generated files and collections are made there and left for inspection.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# The example story: four beats, two subjects that recur (assets/stories/).
STORY_FILE = Path(__file__).resolve().parents[1] / "assets" / "stories" / "fox_and_owl.json"


def shared_subject_similarity(vectors: list[np.ndarray], subjects: list[list[str]]) -> tuple[float | None, int]:
    """Mean cosine over frame pairs sharing at least one subject (None without such pairs)."""
    sims = [
        float(vectors[i] @ vectors[j] / ((np.linalg.norm(vectors[i]) * np.linalg.norm(vectors[j])) or 1.0))
        for i, j in itertools.combinations(range(len(vectors)), 2)
        if set(subjects[i]) & set(subjects[j])
    ]
    return (float(np.mean(sims)) if sims else None), len(sims)


def run(
    frames: int, seed: int, story: dict[str, Any], root: Path, size: int = 512, timeout_s: float = 1800
) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from app.api.app import create_app
    from app.config import Settings
    from app.services import Services

    settings = Settings(
        QDRANT_PATH=root / "qdrant",  # type: ignore[call-arg]
        IMAGES_ROOT=root / "images",
        GENERATED_ROOT=root / "generated",
        THUMBS_ROOT=root / "thumbs",
        EMBED_CACHE_PATH=None,
        AUTO_INGEST=False,
    )
    services = Services.open(settings)
    rows: dict[str, Any] = {}
    with TestClient(create_app(settings, services)) as client:
        for retrieval in (False, True):
            started = time.perf_counter()
            body = {"story": story, "frames": frames, "seed": seed, "retrieval": retrieval, "addToLibrary": False}
            body |= {"width": size, "height": size}
            queued = client.post("/storyboards", json=body)
            if queued.status_code != 202:
                raise SystemExit(f"POST /storyboards answered {queued.status_code}: {queued.text}")
            deadline = time.monotonic() + timeout_s
            while (job := client.get(queued.headers["Location"]).json())["status"] not in ("succeeded", "failed"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"storyboard job still {job['status']} after {timeout_s} s")
                time.sleep(0.1)
            if job["status"] != "succeeded":
                raise SystemExit(f"storyboard job failed: {job.get('error')}")
            result = job["result"]
            images = [
                Image.open(settings.GENERATED_ROOT / f["url"].rsplit("/", 1)[-1]).convert("RGB")
                for f in result["frames"]
            ]
            encoded = services.encoders.adapt("image", services.encoders.image.encode_images(images))
            mean, pairs = shared_subject_similarity(list(encoded), [f["subjects"] for f in result["frames"]])
            rows["on" if retrieval else "off"] = {
                "mean_shared_subject_similarity": mean,
                "pairs": pairs,
                "refs_per_frame": [len(f["refs"]) for f in result["frames"]],
                "stage_s": {k: round(v, 4) for k, v in result["timings"].items()},
                "wall_s": round(time.perf_counter() - started, 3),
                "model": result["model"],
            }
    return {"frames": frames, "seed": seed, "provider": settings.GENERATION_PROVIDER, **rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", type=int, default=512, help="Frame width and height (64 for the tiny SDXL).")
    parser.add_argument(
        "--story",
        type=Path,
        default=STORY_FILE,
        help="A JSON story {title, paragraphs, subjects, setting} (default: assets/stories/fox_and_owl.json).",
    )
    parser.add_argument("--workdir", type=Path, help="Scratch folder (default: a new temporary one).")
    parser.add_argument("--out", type=Path, help="Also write the report here (JSON).")
    args = parser.parse_args(argv)
    story = json.loads(args.story.read_text())
    root = args.workdir or Path(tempfile.mkdtemp(prefix="storyboard-consistency-"))
    report = run(args.frames, args.seed, story, root, args.size)
    text = json.dumps(report, indent=2)
    sys.stdout.write(text + "\n")
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
