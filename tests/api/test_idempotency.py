"""The Idempotency-Key fingerprint (app/api/idempotency.py): what makes two requests the same."""

from __future__ import annotations

import io

from app.api.bodies import Body, UploadedFile
from app.api.idempotency import fingerprint
from app.library.access import OPERATOR, Principal
from app.models import CamelModel


class Form(CamelModel):
    tags: list[str] = []


def body(tags: list[str], *files: UploadedFile) -> Body[Form]:
    return Body(Form(tags=tags), {"files": list(files)} if files else {})


def test_the_same_request_has_the_same_fingerprint_and_any_difference_changes_it() -> None:
    alice = Principal("admin", "alice")
    base = fingerprint(alice, "post", "/libraries/a/imports", body(["x"], UploadedFile(b"png", "a.png")))
    assert base == fingerprint(alice, "POST", "/libraries/a/imports", body(["x"], UploadedFile(b"png", "a.png")))
    others = {
        fingerprint(OPERATOR, "POST", "/libraries/a/imports", body(["x"], UploadedFile(b"png", "a.png"))),
        fingerprint(alice, "PUT", "/libraries/a/imports", body(["x"], UploadedFile(b"png", "a.png"))),
        fingerprint(alice, "POST", "/libraries/b/imports", body(["x"], UploadedFile(b"png", "a.png"))),
        fingerprint(alice, "POST", "/libraries/a/imports", body(["y"], UploadedFile(b"png", "a.png"))),
        fingerprint(alice, "POST", "/libraries/a/imports", body(["x"], UploadedFile(b"PNG", "a.png"))),
        fingerprint(alice, "POST", "/libraries/a/imports", body(["x"], UploadedFile(b"png", "b.png"))),
        fingerprint(alice, "POST", "/libraries/a/imports", body(["x"])),
    }
    assert base not in others and len(others) == 7


def test_a_spooled_archive_is_hashed_by_its_bytes_and_left_rewound() -> None:
    spooled = io.BytesIO(b"PK" + b"\0" * (3 << 20))
    spooled.seek(100)
    digest = fingerprint(OPERATOR, "POST", "/p", body([], UploadedFile(spooled, "a.zip")))
    assert spooled.tell() == 0, "the archive's reader starts at its first byte"
    assert digest == fingerprint(OPERATOR, "POST", "/p", body([], UploadedFile(spooled.getvalue(), "a.zip")))
