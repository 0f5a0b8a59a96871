"""What Imagen and Gemini share: a google-genai client in Vertex AI mode and one mapping
from Google's errors to Clippy's.

Credentials come from the standard Google environment (Application Default Credentials:
GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, or the metadata
server); project and location from GOOGLE_CLOUD_PROJECT / GOOGLE_CLOUD_LOCATION.
"""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image

from app.config import Settings
from app.errors import (
    ClippyError,
    ContentBlockedError,
    InvalidInputError,
    ProviderError,
    ProviderQuotaError,
    ProviderUnavailableError,
)
from app.extras import require

# Vertex AI's `seed` is an int32: larger ones are refused with a 400.
INT32_MAX = 2**31 - 1

_SAFETY = re.compile(
    r"safety|responsible ai|sensitive|blocked|prohibited|violat|usage guidelines|filtered",
    re.IGNORECASE,
)


def missing_configuration(settings: Settings) -> str | None:
    if not settings.GOOGLE_CLOUD_PROJECT:
        return "set GOOGLE_CLOUD_PROJECT (and GOOGLE_CLOUD_LOCATION) and Google credentials."
    return None


def make_client(settings: Settings) -> Any:
    """A google-genai client for Vertex AI (no request is made until the first call)."""
    require("google.genai")  # the `google` extra
    from google import genai
    from google.genai import types

    if missing := missing_configuration(settings):
        raise ProviderUnavailableError(f"Google provider is not configured: {missing}")
    return genai.Client(
        vertexai=True,
        project=settings.GOOGLE_CLOUD_PROJECT,
        location=settings.GOOGLE_CLOUD_LOCATION,
        http_options=types.HttpOptions(timeout=int(settings.GOOGLE_TIMEOUT_S * 1000)),
    )


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def decode_png(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.convert("RGB")


def map_google_error(e: BaseException, provider: str, model: str) -> ClippyError:
    """Google's failure → a domain error: 429 quota, 422 safety/invalid, 503 outage, 502 else."""
    from google.genai import errors

    if isinstance(e, errors.APIError):
        message = f"{provider} ({model}) answered {e.code} {e.status or ''}: {e.message or ''}".strip()
        if e.code == 429 or e.status == "RESOURCE_EXHAUSTED":
            return ProviderQuotaError(message, provider=provider, retry_after=30)
        if e.code >= 500:
            return ProviderUnavailableError(message, provider=provider)
        if e.code == 400 and _SAFETY.search(e.message or ""):
            return ContentBlockedError(message, provider=provider)
        if e.code == 400:
            return InvalidInputError(message, provider=provider)
        if e.code in (401, 403):
            return ProviderError(
                f"{message} — check the Google credentials and GOOGLE_CLOUD_PROJECT.",
                provider=provider,
            )
        if e.code == 404:
            return ProviderError(
                f"{message} — check the model setting and GOOGLE_CLOUD_LOCATION.",
                provider=provider,
            )
        return ProviderError(message, provider=provider)
    try:
        from google.auth.exceptions import DefaultCredentialsError

        if isinstance(e, DefaultCredentialsError):
            return ProviderUnavailableError(
                f"{provider}: no Google credentials found ({e}); set "
                "GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`.",
                provider=provider,
            )
    except ImportError:  # pragma: no cover - google-auth comes with google-genai
        pass
    if isinstance(e, TimeoutError | ConnectionError) or type(e).__module__.startswith(
        ("httpx", "httpcore", "httpx2", "httpcore2")
    ):
        return ProviderUnavailableError(
            f"{provider} ({model}) could not be reached: {type(e).__name__}: {e}",
            provider=provider,
        )
    return ProviderError(f"{provider} ({model}) failed: {type(e).__name__}: {e}", provider=provider)
