"""Download tagged images from a Danbooru-style board (Safebooru by default) and write a
manifest that `qdrant/embed_and_upsert.py --manifest` ingests.

For each tag in --tags-file (one per line) it pages through the board's JSON API, then
downloads the images with a few threads, retrying with backoff, pausing between requests
to be polite, and refusing files over --max-bytes (by the declared Content-Length, and by
counting while it streams). Re-running with --resume skips posts already in the manifest,
so an interrupted fetch continues where it stopped. File names from the board are reduced
to a safe base name, so nothing is written outside --out; a tag whose listing fails is
reported and the run goes on with the others.

\b
Example:
  python scripts/retrieve_safebooru.py --tags-file tags.txt --out data/safebooru \\
      --union --workers 8 --max-pages 20 --resume
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

import httpx
import typer
from tqdm import tqdm

log = logging.getLogger("retrieve_safebooru")
cli = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None)
RETRY_STATUS = {429, 500, 502, 503, 504}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class TooLarge(RuntimeError):
    """Over --max-bytes: not worth retrying."""


def safe_filename(post_id: int, image: str) -> str:
    """`<id>_<base name>` with only letters, digits, `.`, `_` and `-`: a name the board sends
    (`../../x`, `a/b`, `C:\\x`) can never leave the images folder or hide as a dot file."""
    base = PurePosixPath(str(image).replace("\\", "/")).name
    base = _UNSAFE.sub("_", base).lstrip(".")[-120:] or "image"
    return f"{int(post_id)}_{base}"


@dataclass
class Post:
    id: int
    url: str
    tags: list[str]
    filename: str


class Booru:
    def __init__(self, base_url: str, delay: float, retries: int, timeout: float, max_bytes: int) -> None:
        self.base = base_url.rstrip("/")
        self.delay = delay
        self.retries = retries
        self.max_bytes = max_bytes
        self.client = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            headers={"User-Agent": "clippy-fetch/0.1"},
        )
        self._lock = threading.Lock()
        self._last = 0.0

    def _polite(self) -> None:
        # One request per `delay` seconds across all threads: a board is a shared resource.
        with self._lock:
            wait = self._last + self.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()

    def _get(self, url: str, **params: Any) -> httpx.Response:
        response: httpx.Response = self._retrying(url, lambda: self.client.get(url, params=params or None))
        return response

    def _retrying(
        self,
        url: str,
        send: Callable[[], httpx.Response],
        handle: Callable[[httpx.Response], Any] | None = None,
    ) -> Any:
        """`send()` with backoff on transport errors and RETRY_STATUS; `handle(response)`
        (default: the response) runs while the response is open, for streamed bodies."""
        for attempt in range(self.retries + 1):
            self._polite()
            try:
                response = send()
                try:
                    if response.status_code not in RETRY_STATUS:
                        response.raise_for_status()
                        return handle(response) if handle else response
                finally:
                    if handle:
                        response.close()
                reason = f"HTTP {response.status_code}"
            except httpx.TransportError as e:
                reason = str(e)
            if attempt == self.retries:
                raise RuntimeError(f"{url}: giving up after {attempt + 1} tries ({reason})")
            time.sleep(min(30.0, 0.5 * 2**attempt) * (1 + random.random() / 2))
        raise AssertionError("unreachable")

    def posts(self, tags: str, max_pages: int, per_page: int) -> Iterator[Post]:
        for page in range(max_pages):
            body = self._get(
                f"{self.base}/index.php",
                page="dapi",
                s="post",
                q="index",
                json=1,
                tags=tags,
                pid=page,
                limit=per_page,
            )
            try:
                rows = body.json() if body.content.strip() else []
            except ValueError as e:
                raise RuntimeError(f"{tags!r} page {page}: the listing is not JSON ({e})") from e
            if not isinstance(rows, list):
                raise RuntimeError(f"{tags!r} page {page}: expected a JSON list of posts, got {type(rows).__name__}")
            if not rows:
                return
            for row in rows:
                image = row.get("image") if isinstance(row, dict) else None
                try:
                    post_id = int(row["id"]) if image else None
                except (KeyError, TypeError, ValueError):
                    post_id = None
                if post_id is None:
                    log.warning("skipped a post without a usable id/image in %r page %s", tags, page)
                    continue
                url = row.get("file_url") or f"{self.base}/images/{row.get('directory', '')}/{image}"
                yield Post(post_id, str(url), str(row.get("tags", "")).split(), safe_filename(post_id, str(image)))
            if len(rows) < per_page:
                return

    def download(self, post: Post, dest: Path) -> int:
        return int(
            self._retrying(
                post.url,
                lambda: self.client.send(self.client.build_request("GET", post.url), stream=True),
                lambda r: self._save(r, post.url, dest),
            )
        )

    def _save(self, response: httpx.Response, url: str, dest: Path) -> int:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise TooLarge(f"{url}: Content-Length {declared} is over --max-bytes {self.max_bytes}")
        tmp = dest.with_name(dest.name + ".part")
        size = 0
        try:
            with tmp.open("wb") as fh:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    # The header may be missing or lie: count what actually arrives.
                    if size > self.max_bytes:
                        raise TooLarge(f"{url}: over --max-bytes {self.max_bytes} while downloading")
                    fh.write(chunk)
            tmp.replace(dest)  # never leave a half-written image under its real name
        finally:
            tmp.unlink(missing_ok=True)
        return size


def _inside(folder: Path, name: str) -> Path:
    dest = folder / name
    if dest.resolve().parent != folder.resolve():  # safe_filename makes this unreachable; keep it so
        raise ValueError(f"file name {name!r} would leave {folder}")
    return dest


def _done_ids(manifest: Path) -> set[int]:
    if not manifest.exists():
        return set()
    return {int(json.loads(line)["id"]) for line in manifest.read_text().splitlines() if line.strip()}


@cli.command(help=__doc__)
def main(
    tags_file: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help="One tag (or tag query) per line."),
    ],
    out: Annotated[Path, typer.Option(help="Folder for images/ and manifest.jsonl.")],
    union: Annotated[
        bool,
        typer.Option(
            "--union/--intersection",
            help="One query per tag (union), or one query with all tags (intersection).",
        ),
    ] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Parallel downloads.")] = 4,
    max_pages: Annotated[int, typer.Option(min=1, help="Pages per query.")] = 5,
    per_page: Annotated[int, typer.Option(min=1, max=1000, help="Posts per page.")] = 100,
    resume: Annotated[bool, typer.Option(help="Skip posts already in the manifest.")] = False,
    base_url: Annotated[str, typer.Option(help="The board's base URL.")] = "https://safebooru.org",
    delay: Annotated[float, typer.Option(min=0, help="Seconds between requests (politeness).")] = 0.5,
    retries: Annotated[int, typer.Option(min=0, help="Retries per request, with exponential backoff.")] = 4,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds per request.")] = 30.0,
    max_bytes: Annotated[int, typer.Option(min=1, help="Largest image to keep.")] = 20 * 1024 * 1024,
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    queries = [line.strip() for line in tags_file.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not queries:
        raise typer.BadParameter("the tags file holds no tags")
    if not union:
        queries = [" ".join(queries)]
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.jsonl"
    done = _done_ids(manifest) if resume else set()
    if not resume and manifest.exists():
        manifest.unlink()
    booru = Booru(base_url, delay, retries, timeout, max_bytes)
    todo: dict[int, Post] = {}
    listing_failed: list[str] = []
    for q in queries:
        try:
            for post in booru.posts(q, max_pages, per_page):
                if post.id not in done:
                    todo.setdefault(post.id, post)
        except (RuntimeError, httpx.HTTPError) as e:  # one tag's listing never stops the others
            listing_failed.append(q)
            log.warning("listing %r failed (keeping the posts found before): %s", q, e)
    failed = 0
    with (
        ThreadPoolExecutor(workers) as pool,
        manifest.open("a") as fh,
        tqdm(total=len(todo), unit="img") as bar,
    ):
        futures = {pool.submit(booru.download, p, _inside(images, p.filename)): p for p in todo.values()}
        for fut in as_completed(futures):
            post = futures[fut]
            try:
                fut.result()
                row = {
                    "path": f"images/{post.filename}",
                    "tags": post.tags,
                    "id": post.id,
                    "url": post.url,
                    "source": "safebooru",
                }
                fh.write(json.dumps(row) + "\n")
                fh.flush()  # the manifest is the resume point: keep it current
            except Exception as e:  # one bad image never stops the fetch
                failed += 1
                log.warning("skipped post %s: %s", post.id, e)
            bar.update()
    typer.echo(
        json.dumps(
            {
                "queries": len(queries),
                "listing_failed": listing_failed,
                "downloaded": len(todo) - failed,
                "failed": failed,
                "already": len(done),
                "manifest": str(manifest),
            }
        )
    )
