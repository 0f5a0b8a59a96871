"""Every setting of app/config.py's `Settings`, with its type, default and description.

    python scripts/settings_reference.py env       > .env.example
    python scripts/settings_reference.py markdown  > docs/configuration.md

The descriptions are the comments written above each field in app/config.py (and a comment
at the end of its line, or the comment above a run of fields that names it); the sections are
that file's `# --- name (package) ---` headers.
tests/scripts/test_settings_reference.py checks that both files are current.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import sys
import tokenize
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "app" / "config.py"
SECTION = re.compile(r"#\s*---\s*(.+?)\s*-+\s*$")


@dataclass
class Entry:
    name: str
    section: str
    type: str
    default: str
    description: str


def _comments(source: str) -> dict[int, str]:
    """Line number -> comment text, for every comment in the file."""
    out: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string
    return out


def _field_docs(source: str) -> dict[str, tuple[str, str]]:
    """Field name -> (section, description) from the comments around `Settings`' fields."""
    comments = _comments(source)
    lines = source.splitlines()
    (cls,) = [n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    docs: dict[str, tuple[str, str]] = {}
    section, run_block = "general", ""
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        block: list[str] = []
        line = node.lineno - 1
        while line >= 1 and lines[line - 1].strip().startswith("#"):
            text = comments.get(line, "")
            header = SECTION.match(text)
            if header:
                section = header.group(1)
                break
            block.insert(0, text.lstrip("#").strip())
            line -= 1
        description = " ".join(block)
        if block:
            run_block = description
        elif lines[node.lineno - 2].strip() == "":
            run_block = ""  # a blank line ends the run a comment above it speaks for
        elif run_block and re.search(rf"\b{node.target.id}\b", run_block):
            # One comment above a run of fields that names this one describes it too.
            description = run_block
        inline = comments.get(node.end_lineno or node.lineno, "")
        if inline and not lines[(node.end_lineno or node.lineno) - 1].strip().startswith("#"):
            description = (description + " " + inline.lstrip("#").strip()).strip()
        docs[node.target.id] = (section, description)
    return docs


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type(a) for a in args)}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _default(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Path):
        if value.is_absolute() and value.is_relative_to(ROOT):
            return str(value.relative_to(ROOT)) + " (in the checkout)"
        return str(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def entries() -> list[Entry]:
    sys.path.insert(0, str(ROOT))
    from app.config import Settings

    docs = _field_docs(CONFIG.read_text())
    out = []
    for name, info in Settings.model_fields.items():
        section, description = docs.get(name, ("general", ""))
        default = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
        out.append(Entry(name, section, _type(info.annotation), _default(default), description))
    return out


def render_env(items: list[Entry]) -> str:
    out = [
        "# Every Clippy setting with its default, commented out (scripts/settings_reference.py writes",
        "# this file; docs/configuration.md is the same list as a page). Settings come from the",
        "# environment, then from `.env` in the working directory: copy the lines you change into `.env`.",
    ]
    section = None
    for e in items:
        if e.section != section:
            section = e.section
            out += ["", f"# --- {section} " + "-" * max(3, 90 - len(section))]
        if e.description:
            out += [f"# {line}" for line in _wrap(e.description, 96)]
        out.append(f"# ({e.type})")
        out.append(f"# {e.name}={e.default}")
    return "\n".join(out) + "\n"


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def render_markdown(items: list[Entry]) -> str:
    out = [
        "# Configuration",
        "",
        "Every setting, read from the environment and then from `.env` in the working directory",
        "(names are case-insensitive; lists and dicts are JSON). `.env.example` lists the same",
        "settings, commented out. This page is generated from `app/config.py` by",
        "`python scripts/settings_reference.py markdown`; a test fails when it is stale.",
        "",
    ]
    section = None
    for e in items:
        if e.section != section:
            section = e.section
            out += ["", f"## {section}", "", "| Setting | Type | Default | Description |", "|---|---|---|---|"]
        cells = [f"`{e.name}`", _cell(e.type), _cell(e.default, code=True), _cell(e.description)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _cell(text: str, code: bool = False) -> str:
    text = text.replace("|", "\\|")
    if code and text:
        return f"`{text}`"
    return text or "—"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("format", choices=["env", "markdown"])
    args = parser.parse_args(argv)
    items = entries()
    sys.stdout.write(render_env(items) if args.format == "env" else render_markdown(items))


if __name__ == "__main__":
    main()
