"""Tiny SVGs with openclipart-style metadata, written on the fly, and the cairo guard the
rendering tests share. The tests never read Debian's openclipart package."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSETS = REPO_ROOT / "assets"


def _cairo_available() -> bool:
    try:
        import cairosvg  # noqa: F401  (loads libcairo through cffi)
    except OSError:
        return False
    return True


requires_cairo = pytest.mark.skipif(
    not _cairo_available(),
    reason="rendering needs the cairo library: apt-get install libcairo2",
)

# A filled red circle and a filled blue path, no strokes: the line art must outline
# both.
CIRCLE_AND_PATH_SVG = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" viewBox="0 0 100 100">
  <circle cx="35" cy="40" r="25" style="fill:#ff0000"/>
  <path d="M 55 60 L 95 60 L 75 95 Z" fill="#0000ff"/>
</svg>
"""


def clipart_svg(title: str, shape: str, colour: str, creator: str = "Ann Artist") -> str:
    """A small SVG with openclipart-style metadata: title, creator, licence."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:cc="http://web.resource.org/cc/"
     xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
     width="120px" height="80px">
  <metadata><rdf:RDF><cc:Work rdf:about="">
    <dc:title>{title}</dc:title>
    <dc:creator><cc:Agent><dc:title>{creator}</dc:title></cc:Agent></dc:creator>
    <cc:license rdf:resource="http://web.resource.org/cc/PublicDomain"/>
  </cc:Work></rdf:RDF></metadata>
  <g transform="scale(2)">{shape.format(colour=colour)}</g>
</svg>
"""
