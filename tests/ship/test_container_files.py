"""What the container files must say, read from the files themselves (no daemon)."""

from __future__ import annotations

import json
import logging
import re
import tomllib
import typing
from pathlib import Path, PurePosixPath

import pytest
import yaml

from app.api.logs import configure_logging
from app.config import Settings
from tests.ship.container import interpolate, parse_compose, parse_dockerfile
from tests.support.settings import tiny_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _relative_path_settings() -> list[str]:
    """Settings holding a path whose default resolves against the working directory."""
    names = []
    for name, info in Settings.model_fields.items():
        if Path in typing.get_args(info.annotation) or info.annotation is Path:
            default = info.default
            if isinstance(default, Path) and not default.is_absolute():
                names.append(name)
    return names


def test_the_path_settings_list_is_what_the_container_files_must_cover() -> None:
    assert {"QDRANT_PATH", "THUMBS_ROOT", "GENERATED_ROOT", "EMBED_CACHE_PATH"} <= set(_relative_path_settings())


def test_the_image_gives_every_relative_path_setting_an_absolute_value() -> None:
    image = parse_dockerfile(ROOT / "Dockerfile")
    for name in _relative_path_settings():
        assert PurePosixPath(image.env.get(name, ".")).is_absolute(), f"Dockerfile ENV {name} is not absolute"


@pytest.mark.parametrize("service", ["api", "worker", "worker-gpu"])
def test_compose_environment_overrides_every_path_setting_of_dot_env(service: str) -> None:
    """`environment:` wins over `env_file`, whose `.env` holds a checkout's relative paths."""
    image = parse_dockerfile(ROOT / "Dockerfile")
    spec = parse_compose(COMPOSE, service, image).raw["environment"]
    for name in _relative_path_settings():
        assert PurePosixPath(str(spec.get(name, "."))).is_absolute(), f"compose {service}: {name} not set absolute"


def test_compose_qdrant_server_matches_the_client_minor_version_and_gates_the_services() -> None:
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (client,) = [re.match(r"qdrant-client==(\d+)\.(\d+)", p) for p in pins if p.startswith("qdrant-client")]
    assert client, "qdrant-client is pinned"
    doc = yaml.safe_load(COMPOSE.read_text())
    server = re.search(r":v(\d+)\.(\d+)", doc["services"]["qdrant"]["image"])
    assert server and server.groups() == client.groups()
    assert doc["services"]["qdrant"]["healthcheck"]["test"]
    for name in ("api", "worker"):
        depends = doc["services"][name]["depends_on"]
        assert {dep["condition"] for dep in depends.values()} == {"service_healthy"}, name


def test_compose_gpu_profile_reserves_gpus_for_a_worker() -> None:
    gpu = yaml.safe_load(COMPOSE.read_text())["services"]["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert "gpu" in device["capabilities"]


def test_interpolation_follows_compose() -> None:
    scope = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d}|${EMPTY:-d}|${EMPTY-d}|${NONE-d}|$$SET|$SET", scope) == "x|d||d|$SET|x"


def test_uvicorn_loggers_write_in_the_apps_json_format(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import uvicorn.config

    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # what uvicorn's CLI does first
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        configure_logging(tiny_settings(tmp_path, LOG_FORMAT="json"))
        logging.getLogger("uvicorn.error").info("Application startup complete.")
        lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    finally:
        root.handlers[:], root.level = before
    assert [(r["logger"], r["message"]) for r in lines] == [("uvicorn.error", "Application startup complete.")]
