"""The image tower's forward rate by batch size: what micro-batching can gain for sketch and
picture queries on this machine, at most.

A sketch query's model work is one image-tower forward (its drawing, for the `edge` view); with
ENCODE_BATCHING concurrent queries share one forward (app/search/batching.py). So images per
second at batch B over images per second at batch 1 bounds the throughput batching can add
under load: the rest of a query (decode, normalisation, HOG, search) does not batch.

It times the service's own forward (OpenClipModel.encode_preprocessed: stack, move to the
device, forward, normalise, copy back; fp16 autocast on CUDA) on random input tensors, with
random weights built by name (no download: the work per forward is the architecture's).
`--precision bf16` adds a CPU bfloat16-autocast row per batch (not what the service runs: a
measurement of whether it would pay on this CPU).

examples:
  python scripts/bench_image_tower.py                          # ViT-B-32, CPU, 2 threads
  python scripts/bench_image_tower.py --device cuda --batches 1,32,128,256
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench_common import RESULTS_DIR, format_table, latency_summary, limit_threads, write_json


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="ViT-B-32", help="OpenCLIP model name (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.add_argument("--batches", default="1,4,16,32", help="batch sizes, comma-separated (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=10, help="timed forwards per case (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    p.add_argument("--precision", choices=["service", "bf16"], action="append", help="rows to time (default: service)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_image_tower.json")
    args = p.parse_args(argv)
    limit_threads(args.threads)

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from app.embedding.clip import OpenClipModel

    model = OpenClipModel(args.model, "random", torch.device(args.device))
    size = model.model.visual.image_size
    side = size[0] if isinstance(size, tuple | list) else int(size)

    @contextlib.contextmanager
    def precision(name: str) -> Iterator[None]:
        if name == "bf16":
            with torch.autocast(args.device, dtype=torch.bfloat16):
                yield
        else:
            yield

    rows: list[dict[str, Any]] = []
    base: dict[str, float] = {}
    generator = torch.Generator().manual_seed(0)
    for batch in (int(b) for b in args.batches.split(",")):
        pixels = list(torch.randn(batch, 3, side, side, generator=generator))
        for name in args.precision or ["service"]:
            with precision(name):
                model.encode_preprocessed(pixels)  # warm-up
                times = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    model.encode_preprocessed(pixels)  # ends with a copy to the host: synchronised
                    times.append(time.perf_counter() - start)
            p50 = latency_summary(times)["p50_ms"]
            rate = batch / (p50 / 1000)
            base.setdefault(name, rate)
            rows.append(
                {
                    "batch": batch,
                    "precision": name,
                    "p50_ms": round(p50, 3),
                    "images_per_s": round(rate, 1),
                    "vs_batch_1": round(rate / base[name], 2),
                }
            )
    print(format_table(rows))
    params = {k: str(v) for k, v in vars(args).items()} | {"torch": torch.__version__}
    write_json(args.out, {"params": params, "rows": rows})
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
