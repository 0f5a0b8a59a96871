"""The shipped sample library (assets/) and the script that makes it."""

from __future__ import annotations

import json
from pathlib import Path

import make_sample_library
from tests.support.clipart import ASSETS, requires_cairo

SAMPLE = ASSETS / "sample"
MAX_ASSETS_BYTES = 5 * 1024 * 1024
LICENSES = {"public-domain", "CC0-1.0"}


def _manifest(folder: Path) -> list[dict[str, object]]:
    lines = (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_shipped_manifest_paths_all_exist() -> None:
    entries = _manifest(SAMPLE)
    assert len(entries) >= 48
    missing = [e["path"] for e in entries if not (SAMPLE / str(e["path"])).is_file()]
    assert missing == []


def test_shipped_manifest_entries_have_tags_title_and_a_free_licence() -> None:
    for entry in _manifest(SAMPLE):
        tags = entry["tags"]
        assert isinstance(tags, list) and 2 <= len(tags) <= 6, entry
        assert all(isinstance(t, str) and t == t.lower() and t for t in tags), entry
        assert entry["title"] and entry["source"] and entry["origin"], entry
        assert entry["license"] in LICENSES, entry


def test_shipped_manifest_paths_are_unique_and_relative() -> None:
    paths = [str(e["path"]) for e in _manifest(SAMPLE)]
    assert len(paths) == len(set(paths))
    assert not any(p.startswith("/") or ".." in Path(p).parts for p in paths)


def test_every_shipped_image_is_in_the_manifest() -> None:
    listed = {str(e["path"]) for e in _manifest(SAMPLE)}
    on_disk = {p.relative_to(SAMPLE).as_posix() for p in SAMPLE.rglob("*") if p.suffix in {".png", ".jpg"}}
    assert on_disk == listed


def test_assets_stay_under_five_megabytes() -> None:
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    assert total < MAX_ASSETS_BYTES


def test_assets_document_their_licences() -> None:
    text = (ASSETS / "LICENSES.md").read_text(encoding="utf-8")
    assert "openclipart" in text and "public domain" in text
    for entry in _manifest(SAMPLE):
        if entry["source"] != "openclipart":
            assert Path(str(entry["path"])).name in text, entry["path"]


@requires_cairo
def test_build_is_reproducible_and_skips_a_broken_svg(clipart_source: Path, tmp_path: Path) -> None:
    def build(out: Path) -> make_sample_library.Summary:
        return make_sample_library.build(
            out=out,
            count=5,  # more than the folder holds: every file is tried
            seed=0,
            size=64,
            source=clipart_source,
            photos=False,
            sketches=1,
            sketch_dir=out.parent / "sketches",
            known_words=False,
        )

    first = build(tmp_path / "a" / "sample")
    second = build(tmp_path / "b" / "sample")

    assert first.clipart == 4
    assert first.skipped == {"invalid XML": 1}
    assert first.sketches == 1
    entries = _manifest(tmp_path / "a" / "sample")
    assert [e["path"] for e in entries] == [e["path"] for e in _manifest(tmp_path / "b" / "sample")]
    assert second.bytes == first.bytes
    for entry in entries:
        assert (tmp_path / "a" / "sample" / str(entry["path"])).is_file()
        assert entry["license"] == "public-domain"
    cat = next(e for e in entries if "cat" in e["tags"])
    # Author names in file names never become tags; folder names do, in the singular.
    assert cat["tags"] == ["sleepy", "cat", "mammal", "animal"]


def test_build_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    out.mkdir()
    (out / "manifest.jsonl").write_text("{}\n")
    try:
        make_sample_library._reset(out, None, force=False)
    except SystemExit as e:
        assert "--force" in str(e)
    else:
        raise AssertionError("an existing library was overwritten without --force")
