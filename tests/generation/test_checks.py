"""The generate request checks that need no service, no provider and no I/O."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.errors import ConflictError, InvalidInputError, UnavailableError
from app.generation.checks import (
    GenerationLimits,
    check_add_to_library,
    check_limits,
    check_refs,
    check_request,
)
from app.generation.library import NO_LIBRARY
from app.generation.models import GenerateRequest
from tests.support.settings import tiny_settings

LIMITS = GenerationLimits(max_refs=2, max_n=3, max_steps=10)


def _library_image(image_id: str) -> Path:
    return Path(f"/library/{image_id}.png")


def _add(path: Path, tags: list[str], source: str, library: str | None) -> str:
    return "new-id"


def req(**fields: Any) -> GenerateRequest:
    return GenerateRequest.model_validate({"prompt": "a kite", **fields})


def _field(e: pytest.ExceptionInfo[Exception]) -> Any:
    assert isinstance(e.value, InvalidInputError | ConflictError)
    return e.value.details.get("field")


def test_a_request_within_the_limits_passes() -> None:
    check_limits(req(refs=[{"role": "style", "id": "a"}] * 2, n=3, steps=10), LIMITS)
    check_limits(req(prompt="", sketch="data:image/png;base64,AA=="), LIMITS)


@pytest.mark.parametrize(
    ("fields", "field", "needle"),
    [
        ({"prompt": "  "}, "prompt", "no `refs`, `sketch` nor `baseImage`"),
        ({"refs": [{"role": "style", "id": "a"}] * 3}, "refs", "at most 2 (GENERATION_MAX_REFS)"),
        ({"n": 4}, "n", "`n` is 4; at most 3"),
        ({"steps": 11}, "steps", "`steps` is 11; at most 10"),
    ],
)
def test_each_limit_names_its_field_and_setting(fields: dict[str, Any], field: str, needle: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        check_limits(req(**fields), LIMITS)
    assert _field(e) == field and needle in e.value.message


def test_limits_come_from_the_settings(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path, GENERATION_MAX_REFS=1, GENERATION_MAX_N=5, GENERATION_MAX_STEPS=7)
    assert GenerationLimits.of(settings) == GenerationLimits(max_refs=1, max_n=5, max_steps=7)


def test_add_to_library_needs_a_library_and_a_store_the_worker_can_open() -> None:
    check_add_to_library(req(), NO_LIBRARY, durable_jobs=True, library_server=False)  # not asked: nothing needed
    with pytest.raises(UnavailableError) as unavailable:
        check_add_to_library(req(addToLibrary=True), NO_LIBRARY, durable_jobs=False, library_server=False)
    assert _field(unavailable) == "addToLibrary" and unavailable.value.setting == "QDRANT_URL"
    with pytest.raises(ConflictError, match="QDRANT_URL") as conflict:
        check_add_to_library(req(addToLibrary=True), _add, durable_jobs=True, library_server=False)
    assert _field(conflict) == "addToLibrary"
    check_add_to_library(req(addToLibrary=True), _add, durable_jobs=True, library_server=True)
    check_add_to_library(req(addToLibrary=True), _add, durable_jobs=False, library_server=False)


def test_ref_uploads_must_match_the_files_sent_one_to_one() -> None:
    two = req(refs=[{"role": "style", "upload": 0}, {"role": "subject", "upload": 1}])
    check_refs(two, 2, _library_image)
    with pytest.raises(InvalidInputError, match="only 1 `refUploads`") as missing:
        check_refs(two, 1, _library_image)
    assert _field(missing) == "refs.1.upload"
    with pytest.raises(InvalidInputError, match=r"`refUploads\[2\]` is not used") as unused:
        check_refs(two, 3, _library_image)
    assert _field(unused) == "refUploads"


def test_refs_by_id_need_a_library_to_resolve_them() -> None:
    by_id = req(refs=[{"role": "style", "url": "https://example.org/a.png"}, {"role": "style", "id": "x"}])
    check_refs(by_id, 0, _library_image)
    with pytest.raises(UnavailableError) as e:
        check_refs(by_id, 0, NO_LIBRARY)
    assert _field(e) == "refs.1.id"


def test_the_first_problem_is_reported_in_the_order_the_api_always_used(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path, GENERATION_MAX_N=1, REDIS_URL="redis://localhost:6379/0")
    everything_wrong = req(n=2, addToLibrary=True, refs=[{"role": "style", "upload": 3}])
    kw: dict[str, Any] = {"uploads": 0, "resolve": _library_image, "add_to_library": _add, "durable_jobs": True}
    with pytest.raises(InvalidInputError) as limits:
        check_request(everything_wrong, settings, **kw)
    assert _field(limits) == "n"
    with pytest.raises(ConflictError):
        check_request(everything_wrong.model_copy(update={"n": 1}), settings, **kw)
    with pytest.raises(InvalidInputError) as refs:
        check_request(everything_wrong.model_copy(update={"n": 1, "add_to_library": False}), settings, **kw)
    assert _field(refs) == "refs.0.upload"


def test_style_and_subject_weights_are_the_seeds_per_role_defaults() -> None:
    """shared/seeds 002's "Recommended patterns": `style_weight` / `subject_weight` set the
    weight of their role's refs that send none; a ref's own weight wins; other roles keep theirs."""
    refs = [
        {"role": "style", "url": "https://example.org/a.png"},
        {"role": "style", "url": "https://example.org/b.png", "weight": 0.9},
        {"role": "subject", "url": "https://example.org/c.png"},
        {"role": "face", "url": "https://example.org/d.png"},
    ]
    r = req(refs=refs, style_weight=0.6, subject_weight=0)
    assert [ref.weight for ref in r.refs] == [0.6, 0.9, 0.0, 1.0]
    assert [ref.weight for ref in req(refs=refs).refs] == [1.0, 0.9, 1.0, 1.0], "unset: each ref's own default"
    assert [ref.weight for ref in req(refs=refs, styleWeight=0.3).refs][0] == 0.3, "the camelCase name too"
    with pytest.raises(ValidationError, match="style_weight|styleWeight"):
        req(refs=refs, style_weight=1.5)
