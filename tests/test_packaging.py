"""What `pip install .` puts into site-packages: the `app` package and nothing beside it.

`qdrant/` and `scripts/` are programs run from a checkout; installed as top-level packages
they would collide with other distributions' names (a `scripts` exists on PyPI). The wheel
is built here with setuptools' own PEP 517 hook, as pip would, from a copy of the checkout
(the build writes `build/` and `*.egg-info` next to the sources).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "main.py"):
        shutil.copy2(ROOT / name, src / name)
    # The folders a careless `packages.find` would pick up, copied so the build sees them.
    for name in ("app", "qdrant", "scripts", "tests"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))",
        ]
        + [str(out)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    return zipfile.ZipFile(out / build.stdout.strip().splitlines()[-1])


def test_the_wheel_ships_only_the_app_package(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"app"}


def test_the_wheel_holds_every_module_of_the_app_package(wheel: zipfile.ZipFile) -> None:
    # A sub-package without `__init__.py` would be silently left out by `packages.find`.
    shipped = {name for name in wheel.namelist() if name.endswith(".py")}
    modules = {
        path.relative_to(ROOT).as_posix() for path in (ROOT / "app").rglob("*.py") if "__pycache__" not in path.parts
    }
    assert modules - shipped == set()


def test_the_clippy_command_points_into_the_package(wheel: zipfile.ZipFile) -> None:
    [entry_points] = [name for name in wheel.namelist() if name.endswith(".dist-info/entry_points.txt")]
    lines = wheel.read(entry_points).decode().splitlines()
    assert "clippy = app.commands:app" in [line.strip() for line in lines]
