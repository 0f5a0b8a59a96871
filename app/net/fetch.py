"""Fetch an image by URL (reference images, URL import) without becoming a proxy into the network.

* http/https only; a port, if given, must be valid; no user-info tricks change the host.
* The host is resolved once and every address it resolves to must be public: private,
  loopback, link-local (cloud metadata at 169.254.169.254), shared, multicast, reserved
  and unspecified addresses are refused, as are IPv6 forms that embed such an IPv4
  address (mapped, 6to4, NAT64). FETCH_ALLOW_PRIVATE=true lifts this (development only).
* The connection goes to the address that was checked (the request names it, with the
  original `Host` header and TLS server name), so a DNS answer that changes between the
  check and the connect (rebinding) cannot redirect it.
* Redirects are followed by hand, at most MAX_REDIRECTS, each hop checked again.
* The whole fetch, DNS included, is bounded by `timeout_s`; the body by `max_bytes`
  (a declared Content-Length above it is refused before reading).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit, urlunsplit

import anyio
import httpx

from app.errors import ForbiddenError, InvalidInputError, PayloadTooLargeError

MAX_REDIRECTS = 3
Resolver = Callable[[str, int], list[str]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def system_resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the OS resolver; blocking)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for addresses on the public internet; False for anything a server should not be sent to."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _checked_addresses(host: str, port: int, allow_private: bool, resolve: Resolver) -> list[str]:
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as e:
        raise InvalidInputError(f"`url` host {host!r} does not resolve: {e}", host=host) from e
    if not addresses:
        raise InvalidInputError(f"`url` host {host!r} does not resolve.", host=host)
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (`fe80::1%eth0`)
        except ValueError as e:
            raise InvalidInputError(f"`url` host {host!r} resolves to {address!r}, not an IP address.") from e
        if not allow_private and not is_public(ip):
            raise ForbiddenError(
                f"`url` host {host!r} resolves to a non-public address ({ip}); "
                "set FETCH_ALLOW_PRIVATE=true to allow it.",
                host=host,
            )
    return addresses


def check_url(url: str) -> tuple[str, int]:
    """(host, port) of an http/https URL, or InvalidInputError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise InvalidInputError(f"`url` is malformed: {e}", url=url[:200]) from e
    if parts.scheme not in ("http", "https"):
        raise InvalidInputError(f"`url` must be http or https but is {url[:100]!r}.", url=url[:200])
    if not parts.hostname:
        raise InvalidInputError(f"`url` has no host: {url[:100]!r}.", url=url[:200])
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL with its host replaced by the checked `address`, plus the Host header and TLS name."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    ip_host = f"[{address}]" if ":" in address else address
    netloc = f"{ip_host}:{parts.port}" if parts.port else ip_host
    host_header = parts.netloc.rpartition("@")[2]  # without user-info
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), {"host": host_header}, extensions


async def fetch_url(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_private: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    resolve: Resolver | None = None,
) -> bytes:
    """The body of `url`, or a domain error (422 bad/slow URL, 403 private, 413 too big).

    Tests pass a mock `transport`; addresses are then checked only when they also pass a
    `resolve` function (with none, the mock's URLs are trusted as they are).
    """
    if resolve is None and transport is None:
        resolve = system_resolve
    try:
        with anyio.fail_after(timeout_s):
            async with httpx.AsyncClient(
                follow_redirects=False, timeout=timeout_s, transport=transport, trust_env=False
            ) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    host, port = check_url(url)
                    target, headers, extensions = url, dict[str, str](), dict[str, str]()
                    if resolve is not None:
                        addresses = await anyio.to_thread.run_sync(
                            _checked_addresses, host, port, allow_private, resolve, abandon_on_cancel=True
                        )
                        target, headers, extensions = _pinned(url, addresses[0])
                    request = client.build_request("GET", target, headers=headers, extensions=extensions)
                    response = await client.send(request, stream=True)
                    try:
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            continue
                        if response.status_code != 200:
                            raise InvalidInputError(
                                f"`url` answered HTTP {response.status_code}: {url[:200]}",
                                url=url[:200],
                                status=response.status_code,
                            )
                        declared = response.headers.get("content-length", "")
                        if declared.isdigit() and int(declared) > max_bytes:
                            raise _too_big(url, max_bytes)
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body.extend(chunk)
                            if len(body) > max_bytes:
                                raise _too_big(url, max_bytes)
                        return bytes(body)
                    finally:
                        await response.aclose()
                raise InvalidInputError(f"`url` redirects more than {MAX_REDIRECTS} times.", url=url[:200])
    except TimeoutError as e:
        raise InvalidInputError(
            f"`url` did not answer within {timeout_s} s (FETCH_TIMEOUT_S): {url[:200]}",
            url=url[:200],
        ) from e
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        raise InvalidInputError(f"`url` could not be fetched: {e}", url=url[:200]) from e


def _too_big(url: str, max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"`url` is larger than {max_bytes} bytes (MAX_UPLOAD_BYTES): {url[:200]}",
        limit=max_bytes,
    )
