"""The manual's generated pages: the API from client/openapi.json, one tag for the seed routes."""

from __future__ import annotations

import json
from pathlib import Path

import mkdocs_hooks

ROOT = Path(__file__).resolve().parents[2]


def test_the_api_page_lists_every_operation_with_its_statuses() -> None:
    doc = json.loads((ROOT / "client" / "openapi.json").read_text())
    page = mkdocs_hooks.render_operations(doc)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            row = next(line for line in page.splitlines() if f"`{op['operationId']}`" in line)
            assert f"`{method.upper()}` | `{path}`" in row
            assert all(status in row for status in op["responses"])


def test_a_tag_marker_lists_only_that_tags_operations() -> None:
    doc = json.loads((ROOT / "client" / "openapi.json").read_text())
    compat = mkdocs_hooks.render_operations(doc, "compat")
    expected = {
        op["operationId"] for item in doc["paths"].values() for op in item.values() if op.get("tags") == ["compat"]
    }
    rows = [line for line in compat.splitlines() if line.startswith("| `")]
    assert expected and len(rows) == len(expected)
    assert all(any(f"`{op_id}`" in row for row in rows) for op_id in expected)


def test_markers_are_replaced_in_page_markdown() -> None:
    out = mkdocs_hooks.on_page_markdown("x\n<!-- openapi:compat -->\n<!-- bench/README.md -->", None, None, None)  # type: ignore[arg-type]
    assert "<!--" not in out and "| Method | Path |" in out and "\n## " in out
