"""How the server is started: the uvicorn options every launcher shares.

uvicorn trusts `X-Forwarded-For` / `X-Forwarded-Proto` from 127.0.0.1 unless told otherwise,
so any local process (or anything that reaches the port through a local hop) picks the client
address the rate limit and the logs see. Clippy trusts forwarded headers only from the
addresses in FORWARDED_ALLOW_IPS, none by default.
"""

from __future__ import annotations

import os
from typing import Any

from app.config import Settings

ENV = "FORWARDED_ALLOW_IPS"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """`uvicorn.run`/`uvicorn.Config` keyword arguments for the proxy trust in `settings`."""
    trusted = settings.FORWARDED_ALLOW_IPS.strip()
    # uvicorn's CLI workers and reloader children read the variable, not our arguments: keep
    # them in step (uvicorn's own name for it, so `uvicorn main:app` reads the same value).
    os.environ[ENV] = trusted
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def warn_if_uvicorn_trusts_loopback(log: Any) -> None:
    """`uvicorn main:app` without FORWARDED_ALLOW_IPS in the environment trusts loopback's
    forwarded headers (uvicorn's default): say so once at start."""
    if ENV not in os.environ:
        log.warning(
            "%s is not in the environment: a plain `uvicorn main:app` then trusts X-Forwarded-For "
            "from 127.0.0.1, so local clients choose their rate-limit address. Set %s= (empty: trust "
            "no proxy) or the proxy's address, or start with `clippy serve` (docs/operations.md).",
            ENV,
            ENV,
        )
