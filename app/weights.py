"""Fetch model weights into the configured caches and check them against the hub's checksums.

What to fetch comes from the availability check (`Piece.fetch`, app/availability.py), so
`clippy models pull` puts files exactly where the loaders look: the Hugging Face cache
(MODEL_CACHE_DIR, else HF_HUB_CACHE) through huggingface_hub, which shows progress bars and
resumes a partial download (`*.incomplete`). After a download every fetched file is compared
with the hub's tree listing: LFS files by their sha256, small files by their git blob sha1. A
mismatch removes the file and fails, so the next pull fetches it again.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.availability import HubFiles, Piece
from app.errors import ClippyError

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class ChecksumError(ClippyError):
    """A downloaded file does not match the checksum the hub lists for it."""

    code = "checksum_mismatch"


@dataclass(frozen=True)
class Pulled:
    piece: str
    repo: str
    folder: Path
    files: int
    bytes: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """What git (and the hub's `oid` for a non-LFS file) calls this file."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pull_piece(piece: Piece, cache_dir: str | None) -> list[Pulled]:
    """Download what `piece` needs (nothing for a local folder) and verify it."""
    return [_pull(piece.name, files, cache_dir) for files in piece.fetch]


def _pull(name: str, spec: HubFiles, cache_dir: str | None) -> Pulled:
    # No revision: the download resolves `main` and records it (refs/main), as the loaders'
    # own look-ups expect; the snapshot folder is named by the commit it holds, which the
    # check below compares against.
    names: list[str] | None = None  # None: every file under the folder
    match spec.loader:
        case "file":
            folder, names = _pull_file(spec, cache_dir)
        case "diffusers":
            folder = _pull_diffusers(spec, cache_dir)
        case "snapshot":
            from huggingface_hub import snapshot_download

            folder = Path(
                snapshot_download(
                    spec.repo,
                    allow_patterns=list(spec.allow) if spec.allow else None,
                    cache_dir=cache_dir,
                )
            )
        case _:
            raise ValueError(f"Unknown loader {spec.loader!r}. Available: ['file', 'diffusers', 'snapshot']")
    files, size = verify(spec.repo, folder.name, folder, names)
    return Pulled(name, spec.repo, folder, files, size)


def _pull_file(spec: HubFiles, cache_dir: str | None) -> tuple[Path, list[str]]:
    """The first of `spec.files` the repo has (open_clip's own order)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    for filename in spec.files:
        try:
            path = hf_hub_download(spec.repo, filename, cache_dir=cache_dir)
        except EntryNotFoundError:
            continue
        return Path(path[: -len(filename)]), [filename]
    raise ClippyError(f"{spec.repo} has none of {list(spec.files)}; check PRETRAINED and MODEL_NAME.")


def _pull_diffusers(spec: HubFiles, cache_dir: str | None) -> Path:
    """What `DiffusionPipeline.from_pretrained` reads (components, variant), nothing more."""
    from diffusers import DiffusionPipeline

    kwargs: dict[str, object] = {}
    if cache_dir:
        kwargs["cache_dir"] = cache_dir
    if spec.variant:
        kwargs["variant"] = spec.variant
    return Path(DiffusionPipeline.download(spec.repo, **kwargs))


def verify(repo: str, commit: str, folder: Path, names: Iterable[str] | None = None) -> tuple[int, int]:
    """Compare the files under `folder` (or only `names`) with the hub's listing at `commit`.
    Returns (files, bytes) checked; `ChecksumError` names the first file that differs."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    listing = {
        entry.path: entry
        for entry in HfApi().list_repo_tree(repo, revision=commit, recursive=True)
        if isinstance(entry, RepoFile)
    }
    paths = list(names) if names is not None else sorted(_files_under(folder))
    total = 0
    for rel in paths:
        entry = listing.get(rel)
        if entry is None:
            continue  # written by the loader, not fetched from the hub (nothing to compare)
        path = folder / rel
        if entry.lfs is not None:
            expected, actual, how = entry.lfs.sha256, sha256_of(path), "sha256"
        else:
            expected, actual, how = entry.blob_id, git_blob_sha1(path), "git sha1"
        if actual != expected:
            _discard(path)
            raise ChecksumError(
                f"{repo}/{rel} does not match the hub's {how}; it was removed: run the pull again.",
                file=rel,
                expected=expected,
                actual=actual,
            )
        total += path.stat().st_size
    return len(paths), total


def _files_under(folder: Path) -> Iterable[str]:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            yield (Path(root) / name).relative_to(folder).as_posix()


def _discard(path: Path) -> None:
    """Remove a snapshot's link and the blob it points to (the cache's layout)."""
    target = path.resolve()
    path.unlink(missing_ok=True)
    if target != path:
        target.unlink(missing_ok=True)
