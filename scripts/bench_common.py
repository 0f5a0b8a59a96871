"""Helpers shared by scripts/evaluate.py and scripts/bench_query.py: latency summaries,
plain-text tables, JSON results with the run's context, and thread settings."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"


def limit_threads(n: int) -> None:
    """Cap torch / BLAS / FAISS threads (the machine is shared; timings need stable load)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:  # the speed bench without a model does not need torch
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)  # numpy's BLAS was loaded before the environment was set
    except ImportError:
        pass
    faiss = sys.modules.get("faiss")  # only where the caller uses it: importing it logs noise
    if faiss is not None:
        faiss.omp_set_num_threads(n)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean in milliseconds and the sequential throughput (queries per second)."""
    if not seconds:
        raise ValueError("`seconds` must not be empty")
    ms = np.asarray(seconds, dtype=np.float64) * 1000
    return {
        "samples": int(ms.size),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "qps": round(float(1000 / ms.mean()), 1) if ms.mean() > 0 else float("inf"),
    }


def time_calls(fn: Callable[[int], Any], n: int, warmup: int = 3) -> tuple[list[float], list[Any]]:
    """Call fn(i) for i in range(n) after `warmup` untimed calls; (seconds per call, results)."""
    for i in range(min(warmup, n)):
        fn(i)
    times: list[float] = []
    results: list[Any] = []
    for i in range(n):
        start = time.perf_counter()
        out = fn(i)
        times.append(time.perf_counter() - start)
        results.append(out)
    return times, results


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return "" if value is None else str(value)


def format_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A Markdown table (also readable in a terminal); columns default to the first row's keys."""
    rows = list(rows)
    if not rows:
        return "(no rows)"
    cols = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    numeric = [all(_is_number(r.get(c)) for r in rows) for c in cols]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join(
        ("-" * (w + 1) + ":") if num else ("-" * (w + 2)) for w, num in zip(widths, numeric, strict=True)
    )
    return "\n".join([line(cols), sep + "|", *(line(r) for r in cells)])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def run_context() -> dict[str, Any]:
    """What a reader needs to compare two result files: when, where, which code."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": rev or None,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"context": run_context(), **data}, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
