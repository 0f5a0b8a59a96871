"""`clippy sample fetch`: the demo's sample into a folder, or pictures by URL through the guarded
fetcher, each with a manifest the ingest reads; re-runs resume."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.commands import app as clippy
from app.ingest.sample import fetch_sample
from app.ingest.sources import read_manifest
from tests.support.clipart import requires_cairo
from tests.support.images import png_bytes, shape_image
from tests.support.settings import tiny_settings

DEMO = Path(__file__).resolve().parents[2] / "assets" / "sample" / "manifest.jsonl"


def _lines(manifest: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_demo_sample_is_copied_with_its_manifest(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    runner = CliRunner()
    done = runner.invoke(clippy, ["sample", "fetch", "--out", str(out)])
    assert done.exit_code == 0, done.output
    expected = len(_lines(DEMO))
    assert json.loads(done.stdout.strip().splitlines()[-1])["copied"] == expected
    items = list(read_manifest(out / "manifest.jsonl"))
    assert len(items) == expected and all(item.path.is_file() for item in items)
    again = runner.invoke(clippy, ["sample", "fetch", "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.stderr
    assert runner.invoke(clippy, ["sample", "fetch", "--out", str(out), "--force"]).exit_code == 0


def test_urls_are_fetched_checked_and_resumed(tmp_path: Path) -> None:
    pictures = {"/a.png": png_bytes(shape_image(0, 1)), "/b.png": png_bytes(shape_image(1, 2))}
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path in pictures:
            return httpx.Response(200, content=pictures[request.url.path])
        if request.url.path == "/text":
            return httpx.Response(200, content=b"not a picture")
        return httpx.Response(404)

    urls = [f"https://img.test{p}" for p in ("/a.png", "/b.png", "/text", "/gone.png")]
    out = tmp_path / "web"
    settings = tiny_settings(tmp_path)
    first = fetch_sample(urls, out, settings, tags=["web", "test"], transport=httpx.MockTransport(handler))
    assert first.summary() == {"fetched": 2, "skipped": 0, "failed": 2}
    reasons = dict(first.failures)
    assert "404" in reasons["https://img.test/gone.png"]
    assert "image" in reasons["https://img.test/text"].lower()
    entries = _lines(out / "manifest.jsonl")
    assert [e["url"] for e in entries] == urls[:2]
    assert all(e["tags"] == ["web", "test"] and (out / str(e["path"])).is_file() for e in entries)
    assert [item.tags for item in read_manifest(out / "manifest.jsonl")] == [["web", "test"]] * 2

    asked.clear()
    second = fetch_sample(urls, out, settings, transport=httpx.MockTransport(handler))
    assert second.summary() == {"fetched": 0, "skipped": 2, "failed": 2}
    assert sorted(asked) == ["/gone.png", "/text"], "fetched ones are not asked for again"
    assert len(_lines(out / "manifest.jsonl")) == 2


def test_cli_refuses_private_addresses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FETCH_ALLOW_PRIVATE", "false")
    urls = tmp_path / "urls.txt"
    urls.write_text("# local\nhttp://127.0.0.1:9/x.png\n", encoding="utf-8")
    done = CliRunner().invoke(clippy, ["sample", "fetch", "--out", str(tmp_path / "o"), "--urls-file", str(urls)])
    assert done.exit_code == 1
    assert "failed: http://127.0.0.1:9/x.png" in done.stderr and "non-public" in done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["failed"] == 1


@requires_cairo
@pytest.mark.skipif(not Path("/usr/share/openclipart/svg").is_dir(), reason="needs openclipart-svg")
def test_build_renders_the_sample_from_installed_packages(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    done = CliRunner().invoke(clippy, ["sample", "fetch", "--out", str(out), "--build", "--count", "3"])
    assert done.exit_code == 0, done.output
    items = list(read_manifest(out / "manifest.jsonl"))
    assert any("openclipart" in str(i.path) for i in items) and all(i.path.is_file() and i.tags for i in items)
    refused = CliRunner().invoke(
        clippy, ["sample", "fetch", "--out", str(out), "--url", "https://x.test/a.png", "--build"]
    )
    assert refused.exit_code == 2
