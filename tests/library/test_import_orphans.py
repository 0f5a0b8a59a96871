"""Staged import files that no point refers to (a SIGKILL mid-import) are swept at start, after a
grace period, and when their library is deleted (app/library/imports/orphans.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from app.embedding import Encoders
from app.library.access import OPERATOR
from app.library.generated import GeneratedToLibrary
from app.library.imports import ImportOptions
from app.library.imports.orphans import sweep_staged
from app.library.models import CreateLibrary
from app.services import Services
from app.storage.schema import content_sha256
from tests.support.images import png_bytes, shape_image
from tests.support.settings import tiny_settings

HOUR = 3600.0


@pytest.fixture
def services(tmp_path: Path, encoders: Encoders) -> Iterator[Services]:
    services = Services.open(tiny_settings(tmp_path), encoders=encoders)
    yield services
    services.store.close()


def _import(services: Services, library: str, body: bytes) -> Path:
    """Import `body` into `library` through the job queue; the staged file its point uses."""

    async def run() -> None:
        await services.jobs.start()
        try:
            job = await services.imports.submit_files(ImportOptions(library, []), [("pic.png", body)])
            deadline = time.monotonic() + 60
            while not (job := await services.jobs.get(job.id)).finished and time.monotonic() < deadline:
                await anyio.sleep(0.05)
            assert job.status == "succeeded", job
        finally:
            await services.jobs.stop()

    anyio.run(run)
    sha = content_sha256(body)
    path = Path(services.settings.IMAGES_ROOT) / "imports" / library / sha[:2] / f"{sha}.png"
    assert path.is_file()
    return path


def _stage(services: Services, library: str, body: bytes, *, age_s: float, name: str | None = None) -> Path:
    """A file as a killed import leaves it: staged, no point, last written `age_s` ago."""
    sha = content_sha256(body)
    path = Path(services.settings.IMAGES_ROOT) / "imports" / library / sha[:2] / (name or f"{sha}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def _age(path: Path, age_s: float) -> None:
    then = time.time() - age_s
    os.utime(path, (then, then))


def test_the_sweep_removes_only_unreferenced_files_past_the_grace_period(services: Services) -> None:
    kept = _import(services, "lib", png_bytes(shape_image(0, 1)))
    _age(kept, 3 * HOUR)  # old, but a point uses it
    orphan = _stage(services, "lib", b"orphan", age_s=2 * HOUR)
    recent = _stage(services, "lib", b"recent", age_s=60)  # maybe an import running on another worker
    temp = _stage(services, "lib", b"half", age_s=2 * HOUR, name=".0123abcd.tmp")  # a write killed mid-way
    elsewhere = _stage(services, "other", b"other orphan", age_s=2 * HOUR)
    foreign = _stage(services, "lib", b"not ours", age_s=2 * HOUR, name="notes.txt")  # no name this layout makes
    removed = sweep_staged(services.store, Path(services.settings.IMAGES_ROOT), grace_s=HOUR)
    assert removed == 3
    assert {p: p.exists() for p in (kept, orphan, recent, temp, elsewhere, foreign)} == {
        kept: True,
        orphan: False,
        recent: True,
        temp: False,
        elsewhere: False,
        foreign: True,
    }
    assert not (Path(services.settings.IMAGES_ROOT) / "imports" / "other").exists(), "emptied folders go too"


def test_the_service_sweeps_at_start_with_the_configured_grace(tmp_path: Path, encoders: Encoders) -> None:
    services = Services.open(tiny_settings(tmp_path, IMPORT_ORPHAN_GRACE_S=HOUR), encoders=encoders)
    old = _stage(services, "lib", b"killed mid-import", age_s=2 * HOUR)
    young = _stage(services, "lib", b"staged a minute ago", age_s=60)

    async def start_and_stop() -> None:
        await services.start()
        await services.stop()

    anyio.run(start_and_stop)
    assert (old.exists(), young.exists()) == (False, True)


def test_staging_a_file_again_restarts_its_grace_period(services: Services) -> None:
    body = png_bytes(shape_image(1, 2))
    old = _stage(services, "lib", body, age_s=2 * HOUR)  # an orphan a new request now relies on

    async def stage() -> Any:
        return await services.imports.submit_files(ImportOptions("lib", []), [("again.png", body)])

    anyio.run(stage)  # queued, not run: the queue is not started
    assert sweep_staged(services.store, Path(services.settings.IMAGES_ROOT), grace_s=HOUR) == 0
    assert old.exists()


def test_deleting_a_library_removes_its_staged_files(services: Services) -> None:
    libraries = services.libraries
    scope = libraries.scope_for(OPERATOR)
    libraries.create(scope, CreateLibrary(name="gone"))
    used = _import(services, "gone", png_bytes(shape_image(2, 3)))
    killed = _stage(services, "gone", b"left by a killed import", age_s=0)  # no grace: the library goes
    other = _stage(services, "stays", b"another library's", age_s=0)
    libraries.delete(scope, "gone")
    assert (used.exists(), killed.exists(), other.exists()) == (False, False, True)
    assert not (Path(services.settings.IMAGES_ROOT) / "imports" / "gone").exists()


def test_add_to_library_copies_without_a_point_are_swept_after_the_grace_period(
    services: Services, tmp_path: Path
) -> None:
    """A process killed between `addToLibrary`'s copy and its embedding leaves a copy under
    IMAGES_ROOT/generated/ that no point names; the start-up sweep removes it (and a killed
    copy's temp file), and never a copy a point uses or one younger than the grace."""
    made = tmp_path / "made"
    made.mkdir()
    kept_source = made / "kept.png"
    kept_source.write_bytes(png_bytes(shape_image(1, 61)))
    GeneratedToLibrary(services.ingest)(kept_source, ["gen"], "generated")
    generated = Path(services.settings.IMAGES_ROOT) / "generated"
    kept = generated / "kept.png"
    orphan, young, temp = generated / "orphan.png", generated / "young.png", generated / ".x.png.tmp"
    for i, path in enumerate((orphan, young, temp)):
        path.write_bytes(png_bytes(shape_image(2, 70 + i)))
    for path in (kept, orphan, temp):
        _age(path, 2 * HOUR)
    assert services.imports.sweep_staged() == 2
    assert kept.is_file() and young.is_file()
    assert not orphan.exists() and not temp.exists()
    assert not list(generated.glob(".*.tmp")), "the copy itself leaves no temp file"
