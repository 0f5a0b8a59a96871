"""What a ZIP import may cost: bytes in → bytes written and memory at most k× (docs/operations.md).

The worst inputs of each kind: many members each just at 1 MiB of zeros (a bomb below any
per-size threshold), members whose compressed data overlap (each within the ratio), many ZIPs
in one request, and an honest archive that must stream to disk rather than sit in memory."""

from __future__ import annotations

import copy
import io
import os
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.errors import PayloadTooLargeError
from app.library.imports import ContentFolder, ImportOptions, ZipLimits, plan_zip
from app.services import Services
from tests.conftest import tiny_settings

MiB = 1024 * 1024


def _written(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def _bomb(members: int = 1000) -> bytes:
    """`members` entries of exactly 1 MiB: zeros behind a distinct 8-byte tag, so each is its
    own file (content addressing cannot fold them into one)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(members):
            z.writestr(f"m{i:04d}.png", i.to_bytes(8, "big") + bytes(MiB - 8))
    return buf.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("zips")
    # The old default total (2 GiB), under which the bomb below got through: the ratio must stop it.
    settings = tiny_settings(tmp, ZIP_MAX_TOTAL_BYTES=2 * 1024 * MiB)
    services = Services.open(settings, encoders=encoders)
    with TestClient(create_app(settings, services)) as client:
        yield {"client": client, "services": services, "imports": Path(settings.IMAGES_ROOT) / "imports"}
    services.store.close()


def test_a_bomb_of_many_one_mib_members_is_refused_before_anything_is_written(served: dict[str, Any]) -> None:
    client: TestClient = served["client"]
    data = _bomb()
    assert len(data) < 1.5 * MiB  # ~1.1 MB that used to unpack to 1,000 MiB, in memory and on disk
    tracemalloc.start()
    try:
        r = client.post("/libraries/bombed/imports", files=[("files", ("bomb.zip", data, "application/zip"))])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.status_code == 413, r.text
    assert "ZIP_MAX_RATIO" in r.text and "m0000.png" in r.text
    assert _written(served["imports"] / "bombed") == 0, "refused from the central directory, before a byte is written"
    # The request's own copies of the ~1 MB body (client, multipart parser) and nothing that grows with
    # what the archive claims to hold: it was ~1,000 MiB.
    assert peak < 24 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"


def test_overlapping_members_each_within_the_ratio_are_refused_by_the_whole_archive_check() -> None:
    # One compressed member, its central directory entry repeated under 100 names: each entry
    # is within the (generous) per-member ratio, together they unpack 100 MiB from ~15 KB.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.png", bytes(MiB))
        for i in range(100):
            twin = copy.copy(z.filelist[0])
            twin.filename = f"a{i}.png"
            z.filelist.append(twin)
    per_member = MiB / z.filelist[0].compress_size
    limits = ZipLimits(max_entries=1000, max_total_bytes=1024 * MiB, max_ratio=2 * per_member)
    with pytest.raises(PayloadTooLargeError, match=r"unpacks .* bytes of images from .*ZIP_MAX_RATIO"):
        plan_zip(buf.getvalue(), limits)


def test_an_honest_archive_streams_to_disk_one_chunk_at_a_time(tmp_path: Path) -> None:
    members = {f"p{i}.png": os.urandom(MiB) for i in range(16)}  # incompressible: ratio ~1
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            z.writestr(name, body)
    folder = ContentFolder(tmp_path, "lib")
    tracemalloc.start()
    try:
        with plan_zip(buf, ZipLimits(100, 64 * MiB, 100)) as plan:
            extracted = list(plan.extract(folder))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert {n: p.read_bytes() == members[n] for n, p, _ in extracted} == dict.fromkeys(members, True)
    assert _written(folder.root) == 16 * MiB
    assert peak < 2 * MiB, f"peak traced memory {peak / MiB:.2f} MiB while writing 16 MiB"
    assert not list(folder.root.glob(".*.tmp")), "no temp file is left behind"


def test_many_zips_in_one_request_share_one_total(tmp_path: Path, encoders: Encoders) -> None:
    services = Services.open(tiny_settings(tmp_path, ZIP_MAX_TOTAL_BYTES=3 * MiB), encoders=encoders)

    def archive(seed: int) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"{seed}.png", os.urandom(2 * MiB))
        return buf.getvalue()

    async def submit() -> None:
        await services.imports.submit_files(ImportOptions("many", []), [("a.zip", archive(1)), ("b.zip", archive(2))])

    try:
        with pytest.raises(PayloadTooLargeError, match="ZIPs of this request unpack to .*ZIP_MAX_TOTAL_BYTES"):
            anyio.run(submit)
    finally:
        services.store.close()
    assert _written(Path(services.settings.IMAGES_ROOT) / "imports") == 0
