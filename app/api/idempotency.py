"""`Idempotency-Key` bound to the request that sent it (IETF draft "The Idempotency-Key HTTP
Header Field"): the key is stored with a fingerprint of the request, so a retry (same key,
same request) gets the first job and a reuse (same key, another request) gets 422
`idempotency_key_reused` (app/jobs/base.py) instead of a job it did not ask for.

The fingerprint covers the owner, the method, the path (which names the route and its
library) and the parsed body: the model's fields in canonical JSON (so JSON and multipart
sending the same fields agree, and whitespace does not count) and every uploaded file's
field, name and bytes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import anyio
from fastapi import Request

from app.api.bodies import Body, UploadedFile
from app.jobs import IdempotencyKey
from app.library.access import Principal

CHUNK = 1 << 20


def _file_digest(upload: UploadedFile) -> str:
    if isinstance(upload.data, bytes):
        return hashlib.sha256(upload.data).hexdigest()
    # A spooled archive (up to ZIP_MAX_TOTAL_BYTES): read in chunks, then rewind for its reader.
    digest = hashlib.sha256()
    upload.data.seek(0)
    while chunk := upload.data.read(CHUNK):
        digest.update(chunk)
    upload.data.seek(0)
    return digest.hexdigest()


def fingerprint(principal: Principal, method: str, path: str, body: Body[Any]) -> str:
    """A digest of what makes two requests the same request (see the module doc)."""
    digest = hashlib.sha256()

    def part(value: str) -> None:
        # Length-prefixed, so no two different sequences of parts hash alike.
        data = value.encode()
        digest.update(len(data).to_bytes(8, "big") + data)

    part(principal.owner or "")
    part(method.upper())
    part(path)
    part(body.model.model_dump_json(by_alias=True))
    for name in sorted(body.files):
        for upload in body.files[name]:
            part(name)
            part(upload.filename)
            part(_file_digest(upload))
    return digest.hexdigest()


async def idempotency_key(
    header: str | None, principal: Principal, request: Request, body: Body[Any]
) -> IdempotencyKey | None:
    """The request's `Idempotency-Key` (in the caller's namespace) with its fingerprint;
    None without the header. Hashing runs off the event loop (an archive may be large)."""
    key = principal.idempotency_key(header)
    if key is None:
        return None
    digest = await anyio.to_thread.run_sync(fingerprint, principal, request.method, request.url.path, body)
    return IdempotencyKey(key, digest)
