"""Memory under hostile uploads: N parallel searches, each with a big, highly compressed PNG.

Starts `uvicorn main:app` from a checkout (this one by default) on a free loopback port with
an empty store, warms it with one small search, then fires --requests searches at once, each
with a --side x --side PNG of ~150 KB, and reports the server's resident memory: before the
burst, its peak (the kernel's high-water mark, VmHWM, so no spike between samples is missed),
and after. Issue 18 (hole 2): peak growth under 40 such requests stays under 1 GB.

    python scripts/bench_decode_memory.py                        # this checkout
    python scripts/bench_decode_memory.py --app-dir /path/to/old/checkout   # before/after
    python scripts/bench_decode_memory.py --requests 40 --side 6000 --out decode_memory.json
    python scripts/bench_decode_memory.py --env IMAGE_SLOT_WAIT_S=300   # queue them all, no 503

The model is the tiny random one of the tests (tests/fixtures/model_configs) unless
--model-name/--pretrained say otherwise: what is measured is the cost of decoding, not of a
model. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def hostile_png(side: int) -> bytes:
    """A side x side RGB picture of a few strokes: megapixels decoded from ~150 KB."""
    img = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(img)
    for i in range(6):
        x = side * (i + 1) // 8
        draw.line((x, 0, side - x, side), fill="black", width=max(1, side // 600))
    draw.ellipse((side // 4, side // 4, 3 * side // 4, 3 * side // 4), outline="red", width=max(1, side // 100))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak since start) of `pid`, in KiB."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(app_dir: Path, port: int, work: Path, args: argparse.Namespace) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "MODEL_NAME": args.model_name,
        "PRETRAINED": args.pretrained,
        "TEXT_MODEL": "clip",
        "DEVICE": "cpu",
        "QDRANT_PATH": str(work / "qdrant"),
        "THUMBS_ROOT": str(work / "thumbs"),
        "IMAGES_ROOT": str(work / "images"),
        "EMBED_CACHE_PATH": str(work / "embed_cache.sqlite"),
        "AUTO_INGEST": "false",
        "HF_HUB_OFFLINE": "1",
        "FORWARDED_ALLOW_IPS": "",
        "LOG_LEVEL": "WARNING",
    }
    fixtures = app_dir / "tests" / "fixtures" / "model_configs"
    if args.model_name == "clippy-tiny" and fixtures.is_dir():
        env["MODEL_CONFIGS"] = str(fixtures)
    env.update(item.split("=", 1) for item in args.env)
    (work / "images").mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    env["PYTHONPATH"] = str(app_dir)
    return subprocess.Popen(cmd, cwd=app_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


async def burst(base: str, png: bytes, n: int) -> tuple[Counter[int], float]:
    async def one(client: httpx.AsyncClient) -> int:
        try:
            r = await client.post(
                "/search/hybrid", files={"image": ("hostile.png", png, "image/png")}, data={"limit": "3"}
            )
            return r.status_code
        except httpx.HTTPError:
            return 0  # a transport failure (the server died or hung up)

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as client:
        statuses = await asyncio.gather(*(one(client) for _ in range(n)))
    return Counter(statuses), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app-dir", type=Path, default=REPO_ROOT, help="The checkout whose main.py is served.")
    parser.add_argument("--requests", type=int, default=40, help="Searches fired at once.")
    parser.add_argument("--side", type=int, default=6000, help="Side of the uploaded PNG, in pixels.")
    parser.add_argument("--model-name", default="clippy-tiny")
    parser.add_argument("--pretrained", default="random")
    parser.add_argument("--budget-mb", type=float, default=1024, help="Peak growth above which the run fails.")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="A setting for the server (repeatable)."
    )
    parser.add_argument("--out", type=Path, help="Write the figures as JSON here.")
    args = parser.parse_args(argv)

    png = hostile_png(args.side)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="clippy-decode-") as tmp:
        server = start_server(args.app_dir.resolve(), port, Path(tmp), args)
        try:
            deadline = time.monotonic() + 300
            while True:
                if server.poll() is not None:
                    print(server.stdout.read() if server.stdout else "", file=sys.stderr)
                    raise SystemExit("the server exited before it was ready")
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not become ready in 300 s")
                time.sleep(0.3)
            # Warm up: encoders, thread pool and allocator arenas, with a small picture.
            small = io.BytesIO()
            Image.new("RGB", (256, 256), "white").save(small, format="PNG")
            for _ in range(3):
                httpx.post(
                    f"{base}/search/hybrid", files={"image": ("s.png", small.getvalue(), "image/png")}, timeout=60
                )
            time.sleep(1)
            before = memory_kb(server.pid)
            exact = reset_peak(server.pid)
            statuses, seconds = asyncio.run(burst(base, png, args.requests))
            peak = memory_kb(server.pid)
            time.sleep(2)
            after = memory_kb(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
    growth_mb = (peak["VmHWM"] - before["VmRSS"]) / 1024
    report: dict[str, Any] = {
        "app_dir": str(args.app_dir.resolve()),
        "env": args.env,
        "requests": args.requests,
        "png_side": args.side,
        "png_bytes": len(png),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before["VmRSS"] / 1024, 1),
        "rss_peak_mb": round(peak["VmHWM"] / 1024, 1),
        "peak_growth_mb": round(growth_mb, 1),
        "rss_after_mb": round(after["VmRSS"] / 1024, 1),
        # Without clear_refs the high-water mark counts from the server's start (an upper bound).
        "peak_since": "burst" if exact else "server start",
        "budget_mb": args.budget_mb,
    }
    for key, value in report.items():
        print(f"{key:>16}: {value}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if growth_mb < args.budget_mb and 0 not in statuses else 1


if __name__ == "__main__":
    raise SystemExit(main())
