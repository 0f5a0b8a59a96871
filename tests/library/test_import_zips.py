"""What a ZIP import may cost: bytes in → bytes written and memory at most k× (docs/operations.md).

The worst inputs of each kind: many members each just at 1 MiB of zeros (a bomb below any
per-size threshold), members whose compressed data overlap (each within the ratio), many ZIPs
in one request, and an honest archive that must stream to disk rather than sit in memory."""

from __future__ import annotations

import copy
import io
import os
import random
import struct
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
from app.errors import ClippyError, PayloadTooLargeError
from app.library.imports import ContentFolder, ImportOptions, ZipLimits, plan_zip
from app.services import Services
from tests.support.settings import tiny_settings

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
    settings = tiny_settings(tmp, ZIP_MAX_TOTAL_BYTES=2 * 1024 * MiB, IMPORT_ROOTS=[tmp])
    services = Services.open(settings, encoders=encoders)
    with TestClient(create_app(settings, services)) as client:
        yield {"client": client, "tmp": tmp, "imports": Path(settings.IMAGES_ROOT) / "imports"}
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


# --- damaged archives and bad paths: 4xx naming what is wrong, never a 500 -----------------------


def _two_members() -> tuple[bytearray, int]:
    """A ZIP of ok.png then bad.png, and the offset of bad.png's central directory entry."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ok.png", b"fine")
        z.writestr("bad.png", b"A" * 5000 + random.Random(1).randbytes(3000))
    data = bytearray(buf.getvalue())
    return data, data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 1)


def _bad_crc() -> bytes:
    data, cd = _two_members()
    data[cd + 16] ^= 0xFF  # the CRC-32, in the central directory and in the local header
    data[struct.unpack("<I", data[cd + 42 : cd + 46])[0] + 14] ^= 0xFF
    return bytes(data)


def _lying_size() -> bytes:
    data, cd = _two_members()
    declared = struct.unpack("<I", data[cd + 24 : cd + 28])[0]
    data[cd + 24 : cd + 28] = struct.pack("<I", declared - 100)  # says 100 bytes fewer than it holds
    return bytes(data)


def _broken_stream() -> bytes:
    data, cd = _two_members()
    start = struct.unpack("<I", data[cd + 42 : cd + 46])[0] + 30 + len("bad.png")
    data[start + 10] ^= 0xFF
    data[start + 40] ^= 0x55
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "why"),
    [(_bad_crc, "Bad CRC-32"), (_lying_size, "Bad CRC-32"), (_broken_stream, "decompressing")],
    ids=["bad-crc", "lying-size", "broken-deflate"],
)
def test_a_damaged_member_is_422_naming_it_and_leaves_nothing(served: dict[str, Any], make: Any, why: str) -> None:
    client: TestClient = served["client"]
    r = client.post("/libraries/damaged/imports", files=[("files", ("set.zip", make(), "application/zip"))])
    assert r.status_code == 422, r.text
    assert "'bad.png' is damaged" in r.text and why in r.text
    # ok.png was written before bad.png was read; the refused request takes it back.
    assert _written(served["imports"] / "damaged") == 0


def test_encrypted_members_are_refused_before_anything_is_written(served: dict[str, Any]) -> None:
    data, cd = _two_members()
    data[cd + 8] |= 0x1  # "encrypted" in bad.png's flags
    r = served["client"].post(
        "/libraries/locked/imports", files=[("files", ("set.zip", bytes(data), "application/zip"))]
    )
    assert r.status_code == 415 and "'bad.png' is encrypted" in r.text
    assert _written(served["imports"] / "locked") == 0


def test_mutated_archives_are_refused_as_client_errors_only(tmp_path: Path) -> None:
    data, _ = _two_members()
    rnd = random.Random(0)
    folder = ContentFolder(tmp_path, "fuzz")
    for _ in range(400):
        mutated = bytearray(data)
        for _ in range(rnd.randint(1, 4)):
            mutated[rnd.randrange(len(mutated))] = rnd.randrange(256)
        try:
            with plan_zip(bytes(mutated), ZipLimits(100, 64 * MiB, 100)) as plan:
                list(plan.extract(folder))
        except ClippyError as e:
            assert 400 <= e.status_code < 500
    assert not list(tmp_path.rglob(".*.tmp")), "a refused member leaves no temp file"


@pytest.mark.parametrize("name", ["a\x00b", "~no-such-user-here/x", "a" * 5000])
def test_folder_paths_no_file_system_can_hold_are_422(served: dict[str, Any], name: str) -> None:
    folder = name if name.startswith("~") else str(served["tmp"] / name)
    r = served["client"].post("/libraries/default/imports", json={"folder": folder})
    assert r.status_code == 422, r.text
