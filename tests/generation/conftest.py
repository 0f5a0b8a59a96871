"""Generation fixtures: a tiny random-weight SDXL + IP-Adapter built once per session
(tests/support/tiny_sdxl.py), a warm provider on it, and a small app with the generation and
job routers over an in-process queue, or over arq on a real redis-server with an arq worker
in the same process (`backend_client`). No network, no downloaded weights."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from app.config import Settings
from app.generation.sdxl import SdxlProvider
from tests.support.generation import BACKENDS, make_app, make_settings, png, resolver
from tests.support.tiny_sdxl import TinySdxl, build_tiny_sdxl

torch.set_num_threads(1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory: pytest.TempPathFactory) -> TinySdxl:
    return build_tiny_sdxl(tmp_path_factory.mktemp("tiny-sdxl"))


@pytest.fixture(scope="session")
def tiny_env(tiny_sdxl: TinySdxl) -> dict[str, str]:
    return tiny_sdxl.env()


@pytest.fixture(scope="session")
def sdxl(tiny_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> SdxlProvider:
    """One warm provider for the session (loading is the slow part, as in production)."""
    provider = SdxlProvider(make_settings(tiny_env, tmp_path_factory.mktemp("gen")))
    provider.load()
    return provider


@pytest.fixture
def settings(tiny_env: dict[str, str], tmp_path: Path) -> Settings:
    return make_settings(tiny_env, tmp_path / "generated")


@pytest.fixture
def library(tmp_path: Path) -> dict[str, Path]:
    """A two-image "library" for refs by id."""
    root = tmp_path / "library"
    root.mkdir()
    items = {}
    for name, color in {"red": (220, 30, 30), "blue": (30, 30, 220)}.items():
        path = root / f"{name}.png"
        path.write_bytes(png(color))
        items[f"id-{name}"] = path
    return items


@pytest.fixture
def client(settings: Settings, sdxl: SdxlProvider, library: dict[str, Path]) -> Iterator[TestClient]:
    app, _, _ = make_app(settings, {"sdxl": sdxl}, resolve_library_image=resolver(library))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(params=BACKENDS)
def backend_client(
    request: pytest.FixtureRequest, settings: Settings, sdxl: SdxlProvider, library: dict[str, Path]
) -> Iterator[TestClient]:
    """`client` on each job backend: the same HTTP behaviour from both."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    app, _, _ = make_app(settings, {"sdxl": sdxl}, resolve_library_image=resolver(library), redis=url)
    with TestClient(app) as test_client:
        yield test_client
