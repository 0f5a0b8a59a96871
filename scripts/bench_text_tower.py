"""The text tower's speed: OpenCLIP's full 77-token context against the trimmed forward
(app/embedding/text_trim.py), one query at a time and in batches, same model, same run.

The model is built by name with random weights (no download): the work per forward is the
architecture's, whatever the weights. Texts are search-query length (2–12 words).

examples:
  python scripts/bench_text_tower.py                      # ViT-B-32, 2 threads
  python scripts/bench_text_tower.py --model ViT-L-14 --batches 1,8
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench_common import RESULTS_DIR, format_table, latency_summary, limit_threads, write_json

WORDS = "a red cat sitting on a blue chair next to an old lamp in the rain at night drawn in ink".split()


def queries(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 13)))) for _ in range(n)]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="ViT-B-32", help="OpenCLIP model name (default: %(default)s)")
    p.add_argument("--batches", default="1,8,32", help="batch sizes, comma-separated (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=20, help="timed forwards per case (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_text_tower.json")
    args = p.parse_args(argv)
    limit_threads(args.threads)

    import open_clip
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from app.embedding.text_trim import trimmed_text_features, trims

    torch.manual_seed(args.seed)
    model = open_clip.create_model(args.model, pretrained=None).eval()
    tokenizer = open_clip.get_tokenizer(args.model)
    if not trims(model, tokenizer):
        raise SystemExit(f"{args.model}: its text tower is not one the trimmed forward applies to")

    forwards: dict[str, Callable[[Any], Any]] = {
        "full context (open_clip encode_text)": model.encode_text,
        "trimmed (app/embedding/text_trim.py)": lambda t: trimmed_text_features(model, t),
    }
    rows: list[dict[str, Any]] = []
    with torch.inference_mode():
        for batch in (int(b) for b in args.batches.split(",")):
            tokens = [tokenizer(queries(batch, args.seed + i)) for i in range(args.repeats)]
            for name, forward in forwards.items():
                forward(tokens[0])  # warm-up
                times = []
                for t in tokens:
                    start = time.perf_counter()
                    forward(t)
                    times.append(time.perf_counter() - start)
                summary = latency_summary(times)
                rows.append(
                    {
                        "batch": batch,
                        "forward": name,
                        "p50_ms": summary["p50_ms"],
                        "p95_ms": summary["p95_ms"],
                        "texts_per_s": round(batch / (summary["p50_ms"] / 1000), 1),
                    }
                )
    print(format_table(rows))
    write_json(args.out, {"params": {k: str(v) for k, v in vars(args).items()}, "rows": rows})
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
