"""Fixtures for the data-building scripts: tiny SVGs written on the fly.

The tests never read Debian's openclipart package, so they run wherever cairo does.
"""

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


@pytest.fixture
def clipart_source(tmp_path: Path) -> Path:
    """A folder like /usr/share/openclipart/svg: four good SVGs and a broken one."""
    root = tmp_path / "svg"
    files = {
        "animals/mammals/cat_ann_artist_01.svg": clipart_svg(
            "Sleepy Cat", '<circle cx="30" cy="20" r="15" fill="{colour}"/>', "#ff8800"
        ),
        "animals/dog_01.svg": clipart_svg(
            "happyDog",
            '<rect x="5" y="5" width="40" height="25" fill="{colour}"/>',
            "#884400",
        ),
        "food/fruit/apple_01.svg": clipart_svg(
            "red apple",
            '<ellipse cx="30" cy="20" rx="12" ry="14" style="fill:{colour}"/>',
            "#dd0000",
        ),
        "tools/hammer_01.svg": clipart_svg(
            "hammer",
            '<path d="M5 5 L50 5 L50 12 L30 12 L30 35 L22 35 L22 12 L5 12 Z" '
            'style="fill:{colour};stroke:#000000;stroke-width:0.5"/>',
            "#777777",
        ),
        "tools/broken_01.svg": "<svg xmlns='http://www.w3.org/2000/svg'><path d='M0 0'",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root
