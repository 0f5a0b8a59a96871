"""mkdocs hooks (mkdocs.yml `hooks:`): pages generated at build time, so they cannot drift.

- `<!-- openapi -->` in a page becomes the API's operations, from client/openapi.json (the
  server's /openapi.json, written by app/api/openapi_dump.py; `make check-api-types` fails when
  it is stale); `<!-- openapi:TAG -->` lists one tag's operations.
- `<!-- bench/README.md -->` becomes bench/README.md, its headings one level down, and its
  plots (bench/results/*.png) are added to the site beside the page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "client" / "openapi.json"
BENCH = ROOT / "bench"
MARKER = re.compile(r"<!--\s*openapi(?::(?P<tag>[\w-]+))?\s*-->")
METHODS = ("get", "put", "post", "patch", "delete")


def render_operations(doc: dict[str, Any], tag: str | None = None) -> str:
    """One table per tag: method, path, operation id, summary and the statuses it declares."""
    by_tag: dict[str, list[str]] = {}
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            op_tag = (op.get("tags") or ["other"])[0]
            if tag is not None and op_tag != tag:
                continue
            statuses = ", ".join(sorted(op.get("responses", {})))
            summary = (op.get("summary") or "").replace("|", "\\|")
            row = f"| `{method.upper()}` | `{path}` | `{op.get('operationId', '')}` | {summary} | {statuses} |"
            by_tag.setdefault(op_tag, []).append(row)
    out = []
    for name in sorted(by_tag):
        if tag is None:
            out += [f"## {name}", ""]
        out += ["| Method | Path | Operation | Summary | Statuses |", "|---|---|---|---|---|", *by_tag[name], ""]
    return "\n".join(out)


def _bench_readme() -> str:
    text = (BENCH / "README.md").read_text(encoding="utf-8")
    return re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)


def on_files(files: Files, config: Any) -> Files:
    for png in sorted((BENCH / "results").glob("*.png")):
        files.append(File.generated(config, f"results/{png.name}", abs_src_path=str(png)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if MARKER.search(markdown):
        doc = json.loads(OPENAPI.read_text(encoding="utf-8"))
        markdown = MARKER.sub(lambda m: render_operations(doc, m.group("tag")), markdown)
    if "<!-- bench/README.md -->" in markdown:
        markdown = markdown.replace("<!-- bench/README.md -->", _bench_readme())
    return markdown
