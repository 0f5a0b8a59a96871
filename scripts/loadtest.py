"""Load test: N concurrent clients mixing text, sketch and hybrid searches with image fetches.

Bounded in time (--duration) and count (--max-requests), loopback only (the server must be
on 127.0.0.1 / ::1 / localhost). Prints p50/p95/p99 latency, requests per second and errors,
overall and per kind, and the server's peak RSS (with --pid, or --start), and writes the
same as JSON.

    uvicorn main:app --host 127.0.0.1 --port 8000 &
    python scripts/loadtest.py --clients 50 --duration 120 --pid $! --out loadtest.json
    python scripts/loadtest.py --duration 10          # a quick check
    python scripts/loadtest.py --start --duration 20  # a tiny instance on the sample library

An error is a transport failure or any status >= 400 (429 included: a load test of the
defaults should not hit RATE_LIMIT).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import ipaddress
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from PIL import Image, ImageDraw

KINDS = {"text": 0.3, "sketch": 0.2, "hybrid": 0.25, "image": 0.15, "thumb": 0.1}
WORDS = ["cat", "dog", "tree", "house", "circle", "star", "flower", "car", "sun", "bird", "red", "blue", "round"]


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sketches(n: int, seed: int) -> list[bytes]:
    """`n` small line drawings (PNG), dark strokes on white like the client's canvas."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        img = Image.new("RGB", (256, 256), "white")
        draw = ImageDraw.Draw(img)
        for _ in range(rng.randint(2, 6)):
            box = sorted(rng.sample(range(10, 246), 2)), sorted(rng.sample(range(10, 246), 2))
            shape = rng.choice(["ellipse", "rectangle", "line"])
            xy = (box[0][0], box[1][0], box[0][1], box[1][1])
            if shape == "line":
                draw.line(xy, fill="black", width=4)
            else:
                getattr(draw, shape)(xy, outline="black", width=4)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    arr = np.asarray(values)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "mean": round(float(arr.mean()), 2),
        "max": round(float(arr.max()), 2),
    }


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    statuses: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    sent: int = 0


class Load:
    def __init__(
        self,
        client: httpx.AsyncClient,
        ids: list[str],
        drawings: list[bytes],
        stats: Stats,
        kinds: dict[str, float] | None = None,
    ) -> None:
        self.client, self.ids, self.drawings, self.stats = client, ids, drawings, stats
        self.kinds = kinds or KINDS  # request kind → its share of the mix

    async def one(self, kind: str, rng: random.Random) -> httpx.Response:
        words = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
        limit = str(rng.choice([12, 24, 48]))
        match kind:
            case "text":
                body = {"queryText": words, "wImg": 1, "wEdge": 0, "wTxt": 1, "wTags": 0.5, "limit": int(limit)}
                return await self.client.post("/search/hybrid", json=body)
            case "sketch":
                files = {"sketch": ("sketch.png", rng.choice(self.drawings), "image/png")}
                data = {"wEdge": "1", "wImg": "0", "wTxt": "0", "wTags": "0", "limit": limit}
                return await self.client.post("/search/hybrid", files=files, data=data)
            case "hybrid":
                files = {"sketch": ("sketch.png", rng.choice(self.drawings), "image/png")}
                data = {"queryText": words, "wEdge": "1", "wImg": "0.5", "wTxt": "1", "limit": limit, "rerank": "true"}
                return await self.client.post("/search/hybrid", files=files, data=data)
            case "image" | "thumb":
                return await self.client.get(f"/{kind}/{rng.choice(self.ids)}")
            case _:
                raise ValueError(f"Unknown request kind: {kind!r}")

    async def worker(self, seed: int, stop_at: float, budget: list[int]) -> None:
        rng = random.Random(seed)
        kinds, weights = list(self.kinds), list(self.kinds.values())
        while time.monotonic() < stop_at and budget[0] > 0:
            budget[0] -= 1
            kind = rng.choices(kinds, weights)[0]
            started = time.perf_counter()
            try:
                r = await self.one(kind, rng)
                status = str(r.status_code)
                failed = r.status_code >= 400
                detail = r.text[:200] if failed else ""
            except httpx.HTTPError as e:
                status, failed, detail = type(e).__name__, True, str(e)[:200]
            self.stats.latencies[kind].append((time.perf_counter() - started) * 1000)
            self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
            self.stats.sent += 1
            if failed:
                self.stats.errors[kind] += 1
                if len(self.stats.samples) < 10:
                    self.stats.samples.append(f"{kind}: {status} {detail}")


async def library_ids(client: httpx.AsyncClient) -> list[str]:
    ids: set[str] = set()
    for word in WORDS:
        r = await client.post("/search/hybrid", json={"queryText": word, "limit": 50})
        r.raise_for_status()
        ids.update(hit["id"] for hit in r.json()["hits"])
    return sorted(ids)


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak since the process started) of `pid`, in KiB (Linux)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


async def sample_rss(pid: int, peak: list[int], every_s: float = 0.1) -> None:
    """Keep `peak[0]` at the largest RSS seen until cancelled."""
    while True:
        try:
            peak[0] = max(peak[0], rss_kib(pid).get("VmRSS", 0))
        except OSError:  # the server went away: the request errors say so
            return
        await asyncio.sleep(every_s)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    headers = {"x-api-key": args.api_key} if args.api_key else {}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(
        base_url=args.base_url, headers=headers, limits=limits, timeout=args.timeout, trust_env=False
    ) as client:
        ready = await client.get("/readyz")
        if ready.status_code != 200:
            raise SystemExit(f"{args.base_url}/readyz answered {ready.status_code}; start the server first.")
        ids = await library_ids(client)
        if not ids:
            raise SystemExit("the library is empty: ingest something (AUTO_INGEST=true) before a load test.")
        stats = Stats()
        load = Load(client, ids, sketches(16, args.seed), stats, {k: KINDS[k] for k in args.kinds.split(",")})
        before = rss_kib(args.pid) if args.pid else {}
        peak = [before.get("VmRSS", 0)]
        sampler = asyncio.create_task(sample_rss(args.pid, peak)) if args.pid else None
        started = time.monotonic()
        budget = [args.max_requests]
        await asyncio.gather(
            *(load.worker(args.seed + i, started + args.duration, budget) for i in range(args.clients))
        )
        elapsed = time.monotonic() - started
        if sampler is not None:
            sampler.cancel()
    memory = (
        {
            "pid": args.pid,
            "rssBeforeMiB": round(before.get("VmRSS", 0) / 1024, 1),
            "rssPeakMiB": round(peak[0] / 1024, 1),
            "rssGrowthMiB": round((peak[0] - before.get("VmRSS", 0)) / 1024, 1),
            "rssHighWaterMiB": round(rss_kib(args.pid).get("VmHWM", 0) / 1024, 1),
        }
        if args.pid
        else None
    )
    everything = [v for values in stats.latencies.values() for v in values]
    return {
        "baseUrl": args.base_url,
        "clients": args.clients,
        "durationS": round(elapsed, 2),
        "requests": stats.sent,
        "errors": sum(stats.errors.values()),
        "rps": round(stats.sent / elapsed, 2) if elapsed else 0.0,
        "latencyMs": percentiles(everything),
        "byKind": {
            kind: {"requests": len(values), "errors": stats.errors[kind], "latencyMs": percentiles(values)}
            for kind, values in stats.latencies.items()
        },
        "statuses": stats.statuses,
        "errorSamples": stats.samples,
        "libraryImages": len(ids),
        "serverMemory": memory,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="A loopback server.")
    parser.add_argument("--clients", type=int, default=50, help="Concurrent clients (default 50).")
    parser.add_argument("--duration", type=float, default=120.0, help="Seconds to run (default 120).")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="Stop after this many requests.")
    parser.add_argument("--timeout", type=float, default=60.0, help="Per-request timeout in seconds.")
    parser.add_argument("--api-key", default=None, help="Sent as x-api-key when the server needs one.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("loadtest.json"), help="Where to write the JSON report.")
    parser.add_argument("--pid", type=int, default=None, help="The server's process id: report its peak RSS.")
    parser.add_argument(
        "--start",
        action="store_true",
        help="Start a tiny-model server on the sample library (scripts/live_server.py) and load it.",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"Request kinds to mix, in their default shares (default: all of {', '.join(KINDS)}).",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="With --start: a setting for the server, e.g. ENCODE_BATCHING=false (repeatable).",
    )
    args = parser.parse_args(argv)
    unknown = [k for k in args.kinds.split(",") if k not in KINDS]
    if unknown or not args.kinds:
        parser.error(f"--kinds: unknown kind(s) {unknown}; choose from {', '.join(KINDS)}.")
    if any("=" not in e for e in args.server_env):
        parser.error(f"--server-env takes KEY=VALUE, got {args.server_env}.")
    if not is_loopback(args.base_url):
        parser.error(f"--base-url {args.base_url!r} is not a loopback address; this tool only loads local servers.")
    if not (1 <= args.clients <= 1000) or not (0 < args.duration <= 3600) or args.max_requests < 1:
        parser.error("--clients must be 1..1000, --duration 0..3600 s, --max-requests >= 1.")
    if args.start:
        return _started(args)
    report = asyncio.run(run(args))
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return _print(report, args.out)


def _started(args: argparse.Namespace) -> int:
    import tempfile

    from live_server import ROOT, LiveServer

    with tempfile.TemporaryDirectory(prefix="clippy-load-") as tmp:
        extra = dict(e.split("=", 1) for e in args.server_env)
        server = LiveServer.tiny(Path(tmp), IMAGES_ROOT=ROOT / "assets" / "sample", AUTO_INGEST="true", **extra)
        with server.start(ready_s=600):
            args.base_url, args.pid = server.url, server.pid
            report = asyncio.run(run(args))
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return _print(report, args.out)


def _print(report: dict[str, Any], out: Path) -> int:
    lat = report["latencyMs"]
    print(
        f"{report['requests']} requests in {report['durationS']} s from {report['clients']} clients: "
        f"{report['rps']} req/s, {report['errors']} errors; "
        f"latency ms p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} (max {lat['max']})"
    )
    for kind, row in report["byKind"].items():
        k = row["latencyMs"]
        print(
            f"  {kind:<7} {row['requests']:>6} req  {row['errors']:>4} err  p50 {k['p50']}  p95 {k['p95']}  p99 {k['p99']}"
        )
    if memory := report["serverMemory"]:
        print(
            f"server RSS MiB: before {memory['rssBeforeMiB']}, peak {memory['rssPeakMiB']} "
            f"(+{memory['rssGrowthMiB']}), high-water {memory['rssHighWaterMiB']}"
        )
    for sample in report["errorSamples"]:
        print(f"  error: {sample}", file=sys.stderr)
    print(f"report: {out}")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
