"""Attack battery: the holes of issue 18 and the classes behind them, against a live instance.

Starts a throwaway server on loopback (the tiny random-weight model, API keys for two owners,
a read-only key and an operator; scripts/live_server.py) unless --url names one already running
with the same keys (`--print-env` shows them). Seeds two tenants' libraries, runs every case,
prints a table (category, request, expected, got, verdict) and writes the same as JSON.
Exit status 1 when any verdict is FAIL.

    python scripts/attack.py                       # start an instance, run, stop it
    python scripts/attack.py --out attack.json
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from bench_common import format_table
from live_server import ROOT, LiveServer

ALICE = "attack-alice-0123456789abcdef"
ALICE_READ = "attack-alice-read-0123456789ab"
BOB = "attack-bob-0123456789abcdef012"
OPERATOR = "attack-operator-0123456789abcd"
KEYS = f"{ALICE}:admin:alice,{ALICE_READ}:read:alice,{BOB}:admin:bob,{OPERATOR}:admin"
# Small bounds, so the oversize cases cost little; a rate limit the battery itself stays under.
INSTANCE = {
    "API_KEYS": KEYS,
    "MAX_REQUEST_BYTES": 4 * 1024 * 1024,
    "MAX_UPLOAD_BYTES": 2 * 1024 * 1024,
    "ZIP_MAX_TOTAL_BYTES": 8 * 1024 * 1024,
    "RATE_LIMIT": "400/minute",
}


def key(k: str) -> dict[str, str]:
    return {"x-api-key": k}


def png(seed: int = 0, size: int = 64) -> bytes:
    img = Image.new("RGB", (size, size), (seed * 37 % 256, seed * 91 % 256, 120))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def zipped(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@dataclass
class Result:
    category: str
    request: str
    expected: str
    got: str
    verdict: str  # PASS, FAIL


@dataclass
class Case:
    category: str
    request: str
    expected: str
    check: Callable[[Context], tuple[str, bool]]


class Context:
    """The instance, its client and what the seeding made (libraries, ids, a job)."""

    def __init__(self, url: str, base: Path | None, pid: int | None = None) -> None:
        self.url = url
        self.base = base
        self.pid = pid  # the server's, when the battery started it: its RSS can be read
        self.http = httpx.Client(base_url=url, timeout=60)
        self.alice_ids: list[str] = []
        self.bob_ids: list[str] = []
        self.alice_job = ""

    def wait(self, job_id: str, k: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.http.get(f"/jobs/{job_id}", headers=key(k)).json()
            if job.get("status") in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
                return job
            time.sleep(0.05)

    def seed(self) -> None:
        for name, k in (("alice-private", ALICE), ("bob-private", BOB)):
            r = self.http.post("/libraries", json={"name": name}, headers=key(k))
            if r.status_code not in (201, 409):
                raise RuntimeError(f"creating {name}: {r.status_code} {r.text}")
        for library, k, seeds, ids in (
            ("alice-private", ALICE, (1, 2), self.alice_ids),
            ("bob-private", BOB, (3,), self.bob_ids),
        ):
            files = [("files", (f"s{s}.png", png(s), "image/png")) for s in seeds]
            r = self.http.post(f"/libraries/{library}/imports", files=files, headers=key(k))
            job = self.wait(r.json()["id"], k)
            if job.get("status") != "succeeded":
                raise RuntimeError(f"seeding {library}: {job}")
            ids += job["result"]["ids"]
            if k == ALICE:
                self.alice_job = job["id"]


def status_in(*allowed: int) -> Callable[[httpx.Response], tuple[str, bool]]:
    def judge(r: httpx.Response) -> tuple[str, bool]:
        return str(r.status_code), r.status_code in allowed

    return judge


def request_case(
    category: str,
    method: str,
    path: str | Callable[[Context], str],
    allowed: tuple[int, ...],
    *,
    k: str = OPERATOR,
    label: str | None = None,
    **kwargs: Any,
) -> Case:
    """One request whose status must be one of `allowed` (never a 5xx, never a leak)."""

    def check(ctx: Context) -> tuple[str, bool]:
        url = path(ctx) if callable(path) else path
        r = ctx.http.request(method, url, headers={**key(k), **kwargs.pop("headers", {})}, **kwargs)
        return status_in(*allowed)(r)

    shown = label or f"{method} {path if isinstance(path, str) else path.__name__}"
    return Case(category, shown, " or ".join(map(str, allowed)), check)


def import_refused_or_empty(ctx: Context, r: httpx.Response, k: str) -> tuple[str, bool]:
    """An import that must bring nothing in: refused (4xx), or a job that imported nothing."""
    if 400 <= r.status_code < 500:
        return str(r.status_code), True
    if r.status_code != 202:
        return str(r.status_code), False
    job = ctx.wait(r.json()["id"], k)
    ingested = (job.get("result") or {}).get("ingested", 0)
    return f"202 → {job.get('status')}, ingested {ingested}", ingested == 0


def cases() -> list[Case]:
    out: list[Case] = []
    # --- traversal in every encoding --------------------------------------------------------
    for raw in ("..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd", "..%252f..%252fetc%252fpasswd", "....//etc"):
        out.append(request_case("traversal", "GET", f"/image/{raw}", (404, 422)))
        out.append(request_case("traversal", "GET", f"/generated/{raw}", (404, 422)))
        out.append(request_case("traversal", "GET", f"/thumb/{raw}", (404, 422)))
    for folder in ("/etc", "../../etc", "/proc/self", "~root"):
        out.append(
            request_case(
                "traversal",
                "POST",
                "/libraries/alice-private/imports",
                (403, 422),
                k=ALICE,
                json={"folder": folder},
                label=f"POST imports folder={folder!r}",
            )
        )
    out.append(
        request_case(
            "nul-path",
            "POST",
            "/libraries/alice-private/imports",
            (422,),
            k=ALICE,
            json={"folder": "/tmp/a\x00b"},
            label="POST imports folder with NUL",
        )
    )
    # --- SSRF in its forms -----------------------------------------------------------------
    for target in (
        "http://127.0.0.1:1/x.png",
        "http://localhost/x.png",
        "http://[::1]/x.png",
        "http://2130706433/x.png",
        "http://0x7f.0.0.1/x.png",
        "http://017700000001/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/x.png",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
    ):

        def ssrf(ctx: Context, target: str = target) -> tuple[str, bool]:
            r = ctx.http.post("/libraries/alice-private/imports", json={"urls": [target]}, headers=key(ALICE))
            return import_refused_or_empty(ctx, r, ALICE)

        out.append(Case("ssrf", f"POST imports urls=[{target}]", "4xx or nothing imported", ssrf))

    # --- archives --------------------------------------------------------------------------
    def zip_upload(name: str, body: bytes, library: str = "alice-private") -> Callable[[Context], tuple[str, bool]]:
        def check(ctx: Context) -> tuple[str, bool]:
            r = ctx.http.post(
                f"/libraries/{library}/imports", files=[("files", (name, body, "application/zip"))], headers=key(ALICE)
            )
            return import_refused_or_empty(ctx, r, ALICE)

        return check

    mib = 1024 * 1024
    out.append(
        Case(
            "zip-bomb",
            "300 members × 1 MiB zeros (under the old 1 MiB ratio check)",
            "4xx or nothing imported",
            zip_upload("bomb.zip", zipped({f"z{i}.png": b"\0" * mib for i in range(300)})),
        )
    )
    out.append(
        Case(
            "zip-bomb",
            "one 200 MiB member of zeros",
            "4xx or nothing imported",
            zip_upload("big.zip", zipped({"big.png": b"\0" * (200 * mib)})),
        )
    )

    def zip_slip(ctx: Context) -> tuple[str, bool]:
        got, ok = zip_upload("slip.zip", zipped({"../../../../tmp/attack-slip.png": png(9), "../evil.png": png(8)}))(
            ctx
        )
        escaped = [p for p in (Path("/tmp/attack-slip.png"),) if p.exists()]
        if ctx.base is not None:
            escaped += [p for p in (ctx.base / "evil.png", ctx.base / "images" / "evil.png") if p.exists()]
        return f"{got}; escaped files: {len(escaped)}", not escaped

    out.append(Case("zip-slip", "members named ../../x.png", "no file outside the import folder", zip_slip))

    def broken_zip(ctx: Context) -> tuple[str, bool]:
        body = bytearray(zipped({"a.png": png(1), "b.png": png(2)}, zipfile.ZIP_STORED))
        body[60] ^= 0xFF  # inside the first member's data: its CRC no longer matches
        r = ctx.http.post(
            "/libraries/alice-private/imports",
            files=[("files", ("broken.zip", bytes(body), "application/zip"))],
            headers=key(ALICE),
        )
        return str(r.status_code), 400 <= r.status_code < 500

    out.append(Case("broken-zip", "a member with a bad CRC", "4xx", broken_zip))
    out.append(
        request_case(
            "broken-zip",
            "POST",
            "/libraries/alice-private/imports",
            (415, 422),
            k=ALICE,
            files=[("files", ("junk.zip", b"PK\x03\x04" + b"\x00" * 64, "application/zip"))],
            label="POST imports a truncated ZIP",
        )
    )
    # --- tenancy ---------------------------------------------------------------------------
    out += [
        request_case(
            "cross-tenant", "GET", lambda c: f"/image/{c.alice_ids[0]}", (404,), k=BOB, label="bob GET alice's image"
        ),
        request_case(
            "cross-tenant", "GET", lambda c: f"/thumb/{c.alice_ids[0]}", (404,), k=BOB, label="bob GET alice's thumb"
        ),
        request_case(
            "cross-tenant",
            "DELETE",
            lambda c: f"/images/{c.alice_ids[0]}",
            (404,),
            k=BOB,
            label="bob DELETE alice's image",
        ),
        request_case(
            "cross-tenant", "GET", lambda c: f"/jobs/{c.alice_job}", (404,), k=BOB, label="bob GET alice's job"
        ),
        request_case(
            "cross-tenant", "DELETE", lambda c: f"/jobs/{c.alice_job}", (404,), k=BOB, label="bob DELETE alice's job"
        ),
        request_case(
            "cross-tenant",
            "POST",
            "/libraries/alice-private/imports",
            (404,),
            k=BOB,
            files=[("files", ("x.png", png(5), "image/png"))],
            label="bob imports into alice's library",
        ),
        request_case(
            "cross-tenant",
            "POST",
            "/libraries/alice-private/imports",
            (403,),
            k=ALICE_READ,
            files=[("files", ("x.png", png(5), "image/png"))],
            label="alice's read key imports",
        ),
        request_case(
            "cross-tenant", "DELETE", "/libraries/alice-private", (404,), k=BOB, label="bob deletes alice's library"
        ),
        request_case("auth", "GET", "/info", (401,), k="", label="no key"),
        request_case("auth", "GET", "/info", (401,), k="attack-wrong-0123456789abcdef", label="an unknown key"),
    ]

    def bob_cannot_see_alices_image_in_search(ctx: Context) -> tuple[str, bool]:
        r = ctx.http.get("/images", params={"library": "alice-private"}, headers=key(BOB))
        leaked = (
            set(ctx.alice_ids) & {i.get("id") for i in (r.json().get("items") or [])} if r.status_code == 200 else set()
        )
        return f"{r.status_code}, leaked {len(leaked)}", r.status_code in (200, 403, 404) and not leaked

    out.append(Case("cross-tenant", "bob lists alice's library", "no alice id", bob_cannot_see_alices_image_in_search))

    # --- idempotency -----------------------------------------------------------------------
    def idem_other_body(ctx: Context) -> tuple[str, bool]:
        h = {**key(ALICE), "Idempotency-Key": f"attack-{time.monotonic_ns()}"}
        first = ctx.http.post(
            "/libraries/alice-private/imports", files=[("files", ("i.png", png(11), "image/png"))], headers=h
        )
        again = ctx.http.post(
            "/libraries/alice-private/imports", files=[("files", ("i.png", png(12), "image/png"))], headers=h
        )
        code = (
            again.json().get("code") if again.status_code >= 400 else again.json().get("id") == first.json().get("id")
        )
        return (
            f"{first.status_code}, then {again.status_code} {code}",
            first.status_code == 202 and again.status_code == 422,
        )

    def idem_other_route(ctx: Context) -> tuple[str, bool]:
        h = {**key(ALICE), "Idempotency-Key": f"attack-{time.monotonic_ns()}"}
        first = ctx.http.post(
            "/libraries/alice-private/imports", files=[("files", ("j.png", png(13), "image/png"))], headers=h
        )
        again = ctx.http.post("/images/generate", json={"prompt": "a cat", "width": 64, "height": 64}, headers=h)
        returned_import = again.status_code == 202 and again.json().get("id") == first.json().get("id")
        return f"{first.status_code}, then {again.status_code}", again.status_code == 422 and not returned_import

    def idem_same(ctx: Context) -> tuple[str, bool]:
        h = {**key(ALICE), "Idempotency-Key": f"attack-{time.monotonic_ns()}"}
        files = [("files", ("k.png", png(14), "image/png"))]
        first = ctx.http.post("/libraries/alice-private/imports", files=files, headers=h)
        again = ctx.http.post("/libraries/alice-private/imports", files=files, headers=h)
        same = first.status_code == again.status_code == 202 and first.json()["id"] == again.json()["id"]
        return f"{first.status_code}, {again.status_code}, same job: {same}", same

    out += [
        Case("idempotency", "same key, another body", "422", idem_other_body),
        Case(
            "idempotency", "same key on /images/generate after an import", "422, not the import job", idem_other_route
        ),
        Case("idempotency", "same key, same body", "the same job", idem_same),
    ]
    # --- bodies ----------------------------------------------------------------------------
    out += [
        request_case(
            "oversize",
            "POST",
            "/search/hybrid",
            (413,),
            content=b"{" + b" " * (5 * 1024 * 1024) + b"}",
            headers={"content-type": "application/json"},
            label="POST /search/hybrid 5 MiB body (MAX_REQUEST_BYTES 4 MiB)",
        ),
        request_case(
            "oversize",
            "POST",
            "/libraries/alice-private/imports",
            (413,),
            k=ALICE,
            files=[("files", ("huge.png", b"\x89PNG" + b"\0" * (9 * 1024 * 1024), "image/png"))],
            label="POST imports a 9 MiB body (imports: ZIP_MAX_TOTAL_BYTES 8 MiB)",
        ),
        request_case(
            "oversize",
            "POST",
            "/search/hybrid",
            (413,),
            content=iter([b"{" + b" " * (1024 * 1024)] * 5 + [b"}"]),
            headers={"content-type": "application/json"},
            label="POST /search/hybrid 5 MiB chunked (no Content-Length)",
        ),
        request_case(
            "malformed",
            "POST",
            "/search/hybrid",
            (422,),
            content=b'{"queryText": ',
            headers={"content-type": "application/json"},
            label="POST /search/hybrid broken JSON",
        ),
        request_case(
            "malformed",
            "POST",
            "/search/hybrid",
            (415,),
            content=b"queryText=x",
            headers={"content-type": "text/plain"},
            label="POST /search/hybrid text/plain",
        ),
    ]

    # --- issue 18 holes 2, 7, 8: decode bounds, forwarded headers, image headers, worker help ---
    def xff(ctx: Context) -> tuple[str, bool]:
        statuses = [
            ctx.http.get("/info", headers={"X-Forwarded-For": f"10.0.{i // 250}.{i % 250}"}).status_code
            for i in range(420)
        ]
        return f"{statuses.count(401)}×401, {statuses.count(429)}×429", 429 in statuses

    def head_image(ctx: Context) -> tuple[str, bool]:
        r = ctx.http.head(f"/image/{ctx.alice_ids[0]}", headers=key(ALICE))
        return str(r.status_code), r.status_code == 200

    def nosniff(ctx: Context) -> tuple[str, bool]:
        r = ctx.http.get(f"/image/{ctx.alice_ids[0]}", headers=key(ALICE))
        got = r.headers.get("x-content-type-options", "absent")
        return f"{r.status_code}, nosniff: {got}", r.status_code == 200 and got.lower() == "nosniff"

    def decode_bomb(ctx: Context) -> tuple[str, bool]:
        """Eight 6000×6000 sketches at once (each ~150 KB, ~36 MP): refused, or shed with 503, or
        answered with the server's RSS growing by less than 1 GiB (issue 18 hole 2)."""
        from concurrent.futures import ThreadPoolExecutor

        img = Image.new("L", (6000, 6000), 255)
        buf = io.BytesIO()
        img.save(buf, "PNG", optimize=True)
        body = buf.getvalue()
        before = LiveServer.rss_of(ctx.pid) if ctx.pid else 0
        peak = [before]
        done = [False]

        def sample() -> None:
            while not done[0] and ctx.pid:
                peak[0] = max(peak[0], LiveServer.rss_of(ctx.pid))
                time.sleep(0.05)

        def one(_: int) -> int:
            files = [("sketch", ("big.png", body, "image/png"))]
            return ctx.http.post("/search/hybrid", files=files, headers=key(ALICE)).status_code

        with ThreadPoolExecutor(9) as pool:
            sampler = pool.submit(sample)
            statuses = list(pool.map(one, range(8)))
            done[0] = True
            sampler.result()
        growth = (peak[0] - before) / 2**20
        ok = all(s in (200, 413, 422, 503) for s in statuses) and (not ctx.pid or growth < 1024)
        return f"{sorted(statuses)}, RSS +{growth:.0f} MiB", ok

    def worker_help(ctx: Context) -> tuple[str, bool]:
        done = subprocess.run(
            [sys.executable, "-m", "app.jobs.worker", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        return f"exit {done.returncode}", done.returncode == 0 and "Traceback" not in done.stderr

    out += [
        Case("xff", "420 unkeyed requests with rotating X-Forwarded-For", "a 429", xff),
        Case("contract", "HEAD /image/{id}", "200", head_image),
        Case("contract", "GET /image/{id} X-Content-Type-Options", "nosniff", nosniff),
        Case("decode", "8 × 6000×6000 PNG sketches at once", "4xx/503, or RSS +< 1 GiB", decode_bomb),
        Case("contract", "python -m app.jobs.worker --help", "exit 0, no traceback", worker_help),
    ]
    return out


def run_cases(ctx: Context) -> list[Result]:
    results = []
    for case in cases():
        try:
            got, ok = case.check(ctx)
        except Exception as e:  # a dropped connection or a crash is a finding, not the end of the run
            got, ok = f"{type(e).__name__}: {e}"[:120], False
        results.append(Result(case.category, case.request, case.expected, got, "PASS" if ok else "FAIL"))
    # Whatever happened, the instance must still answer.
    alive = ctx.http.get("/healthz").status_code == 200
    results.append(Result("liveness", "GET /healthz after the battery", "200", str(alive), "PASS" if alive else "FAIL"))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="An instance already running on loopback with the battery's keys.")
    parser.add_argument("--out", type=Path, default=Path("attack.json"), help="Where to write the JSON report.")
    parser.add_argument("--print-env", action="store_true", help="Print the settings an instance needs, and exit.")
    args = parser.parse_args(argv)
    if args.print_env:
        print("\n".join(f"{k}={v}" for k, v in INSTANCE.items()))
        return 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="clippy-attack-") as tmp:
        server: LiveServer | None = None
        if args.url:
            ctx = Context(args.url.rstrip("/"), None)
        else:
            server = LiveServer.tiny(Path(tmp), **INSTANCE).start()
            ctx = Context(server.url, Path(tmp), server.pid)
        try:
            ctx.seed()
            results = run_cases(ctx)
        finally:
            if server is not None:
                server.stop()
    rows = [asdict(r) for r in results]
    print(format_table(rows, ["category", "request", "expected", "got", "verdict"]))
    counts = {v: sum(r.verdict == v for r in results) for v in ("PASS", "FAIL")}
    report = {"counts": counts, "seconds": round(time.monotonic() - started, 1), "results": rows}
    args.out.write_text(json.dumps(report, indent=2))
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed → {args.out}")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
