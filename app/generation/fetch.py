"""Fetch a reference image by URL: http/https only, bounded in size and time, and no
private, loopback, link-local or reserved addresses unless FETCH_ALLOW_PRIVATE is set.

Each redirect hop is checked again. The address check resolves the name before the
request; a DNS answer that changes in between (rebinding) is not defended against here.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from app.errors import ForbiddenError, InvalidInputError, PayloadTooLargeError

MAX_REDIRECTS = 3


def _check_address(host: str, port: int, allow_private: bool) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise InvalidInputError(f"`url` host {host!r} does not resolve: {e}", host=host) from e
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if not allow_private and not ip.is_global:
            raise ForbiddenError(
                f"`url` host {host!r} resolves to a non-public address ({ip}); "
                "set FETCH_ALLOW_PRIVATE=true to allow it.",
                host=host,
            )


def check_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidInputError(f"`url` must be http or https but is {url[:100]!r}.", url=url[:200])
    if not parts.hostname:
        raise InvalidInputError(f"`url` has no host: {url[:100]!r}.", url=url[:200])
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def fetch_url(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_private: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """The body of `url`, or a domain error (422 bad/slow URL, 403 private, 413 too big)."""
    try:
        with anyio.fail_after(timeout_s):
            async with httpx.AsyncClient(follow_redirects=False, timeout=timeout_s, transport=transport) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    host, port = check_url(url)
                    if transport is None:
                        await anyio.to_thread.run_sync(_check_address, host, port, allow_private)
                    async with client.stream("GET", url) as response:
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            continue
                        if response.status_code != 200:
                            raise InvalidInputError(
                                f"`url` answered HTTP {response.status_code}: {url[:200]}",
                                url=url[:200],
                                status=response.status_code,
                            )
                        declared = int(response.headers.get("content-length") or 0)
                        if declared > max_bytes:
                            raise _too_big(url, max_bytes)
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body.extend(chunk)
                            if len(body) > max_bytes:
                                raise _too_big(url, max_bytes)
                        return bytes(body)
                raise InvalidInputError(f"`url` redirects more than {MAX_REDIRECTS} times.", url=url[:200])
    except TimeoutError as e:
        raise InvalidInputError(
            f"`url` did not answer within {timeout_s} s (FETCH_TIMEOUT_S): {url[:200]}",
            url=url[:200],
        ) from e
    except httpx.HTTPError as e:
        raise InvalidInputError(f"`url` could not be fetched: {e}", url=url[:200]) from e


def _too_big(url: str, max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"`url` is larger than {max_bytes} bytes (MAX_UPLOAD_BYTES): {url[:200]}",
        limit=max_bytes,
    )
