"""A local Hugging Face-compatible hub for tests: serves folders as model repos over HTTP.

It answers the endpoints huggingface_hub (and through it diffusers, transformers,
sentence-transformers, open_clip) calls, with the headers the real hub sends::

    GET  /api/models/{repo}[/revision/{rev}]      model info (sha, siblings)
    GET  /api/models/{repo}/tree/{rev}[/{path}]   file listing (oid, size, lfs.oid = sha256)
    HEAD|GET /{repo}/resolve/{rev}/{file}          the file: ETag, X-Repo-Commit, X-Linked-Etag,
                                                   X-Linked-Size; Range (resume) → 206

Large files (`*.safetensors`, `*.bin`, `*.pt`) are "LFS": their ETag is the sha256, as on the
hub; others carry their git blob sha1. `corrupt` names files served with one byte changed
(the listing keeps the true checksums), to test that a pull notices. Point huggingface_hub at
it with HF_ENDPOINT (read when huggingface_hub is imported: set it in a subprocess's
environment) or by patching `huggingface_hub.constants.ENDPOINT`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


@dataclass(frozen=True)
class HubFile:
    path: str
    data: bytes
    lfs: bool

    @property
    def blob_sha1(self) -> str:
        return hashlib.sha1(b"blob %d\0" % len(self.data) + self.data, usedforsecurity=False).hexdigest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.blob_sha1

    def listing(self) -> dict[str, object]:
        entry: dict[str, object] = {"type": "file", "oid": self.blob_sha1, "size": len(self.data), "path": self.path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": 134}
        return entry


@dataclass
class HubRepo:
    repo: str
    files: dict[str, HubFile]
    commit: str

    @classmethod
    def from_folder(cls, repo: str, folder: Path) -> HubRepo:
        files = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(folder).as_posix()
            files[rel] = HubFile(rel, path.read_bytes(), rel.endswith(LFS_SUFFIXES))
        commit = hashlib.sha1(b"".join(f.etag.encode() for f in files.values()), usedforsecurity=False).hexdigest()
        return cls(repo, files, commit)


@dataclass
class LocalHub:
    repos: dict[str, HubRepo] = field(default_factory=dict)
    corrupt: set[tuple[str, str]] = field(default_factory=set)
    # (method, path) of every request, for tests that check what was (not) fetched.
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def add(self, repo: str, folder: Path) -> HubRepo:
        self.repos[repo] = HubRepo.from_folder(repo, folder)
        return self.repos[repo]

    def downloads(self, repo: str) -> list[str]:
        """Files of `repo` whose bytes were sent (GET on resolve)."""
        prefix = f"/{repo}/resolve/"
        return [
            p.removeprefix(prefix).partition("/")[2] for m, p in self.requests if m == "GET" and p.startswith(prefix)
        ]


def _split_repo(rest: str) -> tuple[str, str]:
    """'org/name/more…' → ('org/name', 'more…')."""
    parts = rest.split("/", 2)
    return "/".join(parts[:2]), parts[2] if len(parts) > 2 else ""


def _handler(hub: LocalHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet: tests read `hub.requests`
            return

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _send(self, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _json(self, obj: object, body: bool, status: int = 200, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})}, body)

        def _missing(self, body: bool, code: str = "RepoNotFound") -> None:
            self._json({"error": code}, body, 404, {"X-Error-Code": code})

        def _answer(self, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            hub.requests.append((self.command, path))
            if path.startswith("/api/models/"):
                return self._api(path.removeprefix("/api/models/"), body)
            repo_id, rest = _split_repo(path.lstrip("/"))
            repo = hub.repos.get(repo_id)
            if repo is None or not rest.startswith("resolve/"):
                return self._missing(body)
            _rev, _, filename = rest.removeprefix("resolve/").partition("/")
            f = repo.files.get(filename)
            if f is None:
                return self._missing(body, "EntryNotFound")
            data = f.data
            if (repo_id, filename) in hub.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            headers = {
                "ETag": f'"{f.etag}"',
                "X-Repo-Commit": repo.commit,
                "Accept-Ranges": "bytes",
                "Content-Type": "application/octet-stream",
            }
            if f.lfs:
                headers["X-Linked-Etag"] = f'"{f.sha256}"'
                headers["X-Linked-Size"] = str(len(f.data))
            status = 200
            if body and (rng := self.headers.get("Range", "")).startswith("bytes="):
                start = int(rng.removeprefix("bytes=").split("-")[0] or 0)
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                data, status = data[start:], 206
            self._send(status, data, headers, body)

        def _api(self, rest: str, body: bool) -> None:
            repo_id, tail = _split_repo(rest)
            repo = hub.repos.get(repo_id)
            if repo is None:
                return self._missing(body)
            if tail == "" or tail.startswith("revision/"):
                siblings = [{"rfilename": p} for p in repo.files]
                return self._json(
                    {"id": repo_id, "modelId": repo_id, "sha": repo.commit, "siblings": siblings, "private": False,
                     "tags": [], "downloads": 0, "likes": 0},
                    body,
                )  # fmt: skip
            if tail.startswith("tree/"):
                _rev, _, under = tail.removeprefix("tree/").partition("/")
                prefix = under.rstrip("/") + "/" if under else ""
                entries = [f.listing() for p, f in repo.files.items() if p.startswith(prefix)]
                return self._json(entries, body)
            return self._missing(body)

    return Handler


@contextmanager
def local_hub(repos: dict[str, Path] | None = None) -> Iterator[LocalHub]:
    """A hub on 127.0.0.1 (a free port) serving `repos` (repo id → folder) until the block ends."""
    hub = LocalHub()
    for repo, folder in (repos or {}).items():
        hub.add(repo, folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="local hub", daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
