"""Settings for the tiny random-weight OpenCLIP model the suite runs on (no downloads)."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TINY_MODEL = {
    "MODEL_CONFIGS": str(FIXTURES / "model_configs"),
    "MODEL_NAME": "clippy-tiny",
    "PRETRAINED": "random",
    "TEXT_MODEL": "clip",
    "DEVICE": "cpu",
}


def tiny_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        **TINY_MODEL,
        "QDRANT_PATH": tmp_path / "qdrant",
        "THUMBS_ROOT": tmp_path / "thumbs",
        "IMAGES_ROOT": tmp_path / "images",
        "AUTO_INGEST": False,
        # Imports do not caption with whatever DESCRIBE_MODEL a machine has cached; the
        # AUTO_CAPTION tests turn it on with the tiny BLIP.
        "AUTO_CAPTION": "off",
        "EMBED_CACHE_PATH": tmp_path / "embed_cache.sqlite",
        "ENVIRONMENT": "test",
        # A test that stops its app with a job still running need not wait out the
        # production drain; the shutdown tests set their own.
        "JOB_DRAIN_S": 1,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]
