"""Fixtures for the data-building scripts: a folder of tiny SVGs written on the fly.

The tests never read Debian's openclipart package, so they run wherever cairo does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clipart import clipart_svg


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
