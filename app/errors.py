"""Domain errors. Library code raises these; `app/api/errors.py` maps them to HTTP in one place.

Messages quote the argument and its value, and say what to change.
"""

from __future__ import annotations

from typing import Any, Self


class ClippyError(Exception):
    """Base of every error Clippy raises on purpose."""

    status_code: int = 500
    code: str = "internal_error"

    # The technical text behind `message` (an exception's own words) when there is one:
    # job errors carry it apart from the one-line message (JobError.detail).
    technical: str | None = None

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def because(self, cause: object) -> Self:
        """Keep `cause`'s text as the technical detail (`raise Error(...).because(e) from e`)."""
        self.technical = str(cause)
        return self


class InvalidInputError(ClippyError):
    status_code = 422
    code = "invalid_input"


class NotFoundError(ClippyError):
    status_code = 404
    code = "not_found"


class PayloadTooLargeError(ClippyError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaError(ClippyError):
    status_code = 415
    code = "unsupported_media"


class UnauthorizedError(ClippyError):
    """No API key, or an unknown one (API_KEYS)."""

    status_code = 401
    code = "unauthorized"


class ForbiddenError(ClippyError):
    status_code = 403
    code = "forbidden"


class ConflictError(ClippyError):
    status_code = 409
    code = "conflict"


class IdempotencyKeyReusedError(ClippyError):
    """The same Idempotency-Key sent with another request: 422, as the IETF draft asks."""

    status_code = 422
    code = "idempotency_key_reused"


class OverloadedError(ClippyError):
    status_code = 429
    code = "overloaded"


class BusyError(ClippyError):
    """Every slot for this kind of work is taken (IMAGE_SLOTS); retry after `retry_after` s."""

    status_code = 503
    code = "busy"


class ModelMismatchError(ClippyError):
    """The collection was built with another embedding space than the running model."""

    status_code = 409
    code = "model_mismatch"


class WeightsUnavailableError(ClippyError):
    """Model weights could not be found locally nor downloaded."""

    status_code = 503
    code = "weights_unavailable"


class StoreLockedError(ClippyError):
    """Another process holds the embedded store."""

    status_code = 503
    code = "store_locked"


class ProviderError(ClippyError):
    """A generation provider failed for a reason outside the request (quota, outage)."""

    status_code = 502
    code = "provider_error"
    # Job queues retry retryable errors with backoff (JOB_MAX_TRIES, JOB_RETRY_BACKOFF_S).
    retryable: bool = False


class ProviderQuotaError(ProviderError):
    """The provider refused for quota or rate limits; retrying later may succeed."""

    status_code = 429
    code = "provider_quota"
    retryable = True


class ProviderUnavailableError(ProviderError):
    """The provider is unreachable, timed out, answered 5xx, or is not configured here."""

    status_code = 503
    code = "provider_unavailable"
    retryable = True


class ContentBlockedError(ClippyError):
    """The provider's safety filter blocked the prompt or every generated image."""

    status_code = 422
    code = "content_blocked"


class UnavailableError(InvalidInputError):
    """The request needs a part this process was started without (the library store in a
    job worker, a job queue); the message names the setting that provides it. 422 with the
    `invalid_input` code, as the request asks for what this server cannot do."""

    def __init__(self, message: str, setting: str, **details: Any) -> None:
        super().__init__(message, setting=setting, **details)
        self.setting = setting
