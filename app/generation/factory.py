"""Build providers by name, once each: weights load on first use and stay warm."""

from __future__ import annotations

import threading

from app.config import Settings
from app.generation.base import ImageProvider
from app.generation.models import PROVIDERS


def build_provider(name: str, settings: Settings) -> ImageProvider:
    """A provider by name (cheap: nothing loads until the first generation)."""
    match name:
        case "sdxl":
            from app.generation.sdxl import SdxlProvider

            return SdxlProvider(settings)
        case "imagen":
            from app.generation.imagen import ImagenProvider

            return ImagenProvider(settings)
        case "gemini":
            from app.generation.gemini import GeminiProvider

            return GeminiProvider(settings)
        case _:
            raise ValueError(
                f"Unknown generation provider: {name!r}. Available: {list(PROVIDERS)} "
                "(set GENERATION_PROVIDER or the request's `provider`)."
            )


class ProviderRegistry:
    """One instance per provider name, built on first use; tests pass ready ones."""

    def __init__(self, settings: Settings, providers: dict[str, ImageProvider] | None = None) -> None:
        self._settings = settings
        self._providers: dict[str, ImageProvider] = dict(providers or {})
        self._lock = threading.Lock()

    def get(self, name: str) -> ImageProvider:
        with self._lock:
            if name not in self._providers:
                self._providers[name] = build_provider(name, self._settings)
            return self._providers[name]

    def close(self) -> None:
        with self._lock:
            for provider in self._providers.values():
                provider.close()
            self._providers.clear()
