"""The query benchmark's own correctness: its exact answers, recalls and JSON on a small library."""

from __future__ import annotations

import json
from pathlib import Path

import bench_query


def test_bench_query_measures_every_engine_against_the_exact_answer(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    argv = ["--sizes", "600", "--dim", "32", "--rank", "8", "--queries", "6", "--optimize", "none"]
    assert bench_query.main([*argv, "--threads", "1", "--workdir", str(tmp_path), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = {(r["engine"], r["case"]): r for r in report["rows"]}
    for case in ("single", "rerank", "filter"):
        assert rows[("numpy (exact)", case)]["recall@10"] == 1.0, "brute force is the truth it is compared with"
    assert rows[("faiss flat", "single")]["recall@10"] == 1.0, "a flat index is exact"
    edge = {case: r for (engine, case), r in rows.items() if engine.startswith("qdrant-edge")}
    # `…/vec`: the old path (candidates' vectors copied out), run in the same run for the A/B.
    cases = {"single", "fused", "lists", "fusion", "rerank", "filter", "fusion/vec", "rerank/vec", "filter/vec"}
    assert set(edge) == cases
    assert edge["lists"]["recall@10"] is None, "the re-rank's first call alone is timed, not an answer"
    assert edge["single"]["recall@10"] == 1.0, "an exact scan finds the exact neighbours"
    # The exact re-rank over the candidate union is the service's promise: it equals the
    # brute-force weighted search, with or without a filter.
    assert edge["rerank"]["recall@10"] == 1.0
    assert edge["filter"]["recall@10"] == 1.0
    assert edge["rerank/vec"]["recall@10"] == edge["rerank"]["recall@10"]  # same answer, either path
    assert edge["fusion/vec"]["recall@10"] == edge["fusion"]["recall@10"]
    for r in report["rows"]:
        assert r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] and r["qps"] > 0


def test_bench_query_reports_the_store_size_and_each_search_breadth(tmp_path: Path) -> None:
    """The 1M table's columns: RAM and disk per point, the build's times, rows per HNSW_EF;
    views that agree (`--agreement`) as well as independent ones."""
    out = tmp_path / "bench.json"
    argv = ["--sizes", "600", "--dim", "32", "--rank", "8", "--queries", "4", "--optimize", "after"]
    argv += ["--no-faiss", "--exact-scores", "engine", "--agreement", "0.8", "--hnsw-ef", "32,64"]
    assert bench_query.main([*argv, "--threads", "1", "--workdir", str(tmp_path), "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    engines = {r["engine"] for r in rows if r["engine"].startswith("qdrant-edge")}
    assert engines == {"qdrant-edge (optimized, ef 32)", "qdrant-edge (optimized, ef 64)"}
    first = next(r for r in rows if r["engine"] == "qdrant-edge (optimized, ef 32)" and r["case"] == "single")
    # 600 points × 3 views × 32 float32s is 384 B/point of vectors alone: the store holds at least that.
    assert first["disk_b_per_point"] >= 384 and first["ram_b_per_point"] >= first["anon_b_per_point"] >= 0
    assert first["upsert_s"] >= 0 and first["optimize_s"] >= 0
    assert {r["case"] for r in rows if r["engine"] in engines} == {
        "single",
        "fused",
        "lists",
        "fusion",
        "rerank",
        "filter",
    }
