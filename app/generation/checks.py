"""The checks a generate request passes before anything is read, fetched or queued: every
4xx that needs no I/O and no provider (limits, the library hooks, the multipart uploads).
The provider's own checks (sizes, capabilities) come after these, in
`GenerationService.check`.

Each function raises the request's first problem; `check_request` runs them in the order
the API has always reported them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.errors import ConflictError, InvalidInputError
from app.generation.library import AddToLibrary, LibraryUnavailable, ResolveLibraryImage
from app.generation.models import GenerateRequest, ImageSource


@dataclass(frozen=True)
class GenerationLimits:
    """The per-request bounds (GENERATION_MAX_REFS, GENERATION_MAX_N, GENERATION_MAX_STEPS)."""

    max_refs: int
    max_n: int
    max_steps: int

    @classmethod
    def of(cls, settings: Settings) -> GenerationLimits:
        return cls(settings.GENERATION_MAX_REFS, settings.GENERATION_MAX_N, settings.GENERATION_MAX_STEPS)


def check_limits(request: GenerateRequest, limits: GenerationLimits, *, base_file: bool = False) -> None:
    """Something to generate from, and no more refs, images or steps than allowed."""
    base = request.base_image is not None or base_file
    if not request.prompt.strip() and not request.refs and request.sketch is None and not base:
        raise InvalidInputError("`prompt` is empty and there are no `refs`, `sketch` nor `baseImage`.", field="prompt")
    if len(request.refs) > limits.max_refs:
        raise InvalidInputError(
            f"`refs` has {len(request.refs)} references; at most {limits.max_refs} (GENERATION_MAX_REFS).",
            field="refs",
            limit=limits.max_refs,
        )
    if request.n > limits.max_n:
        raise InvalidInputError(
            f"`n` is {request.n}; at most {limits.max_n} (GENERATION_MAX_N).", field="n", limit=limits.max_n
        )
    if request.steps is not None and request.steps > limits.max_steps:
        raise InvalidInputError(
            f"`steps` is {request.steps}; at most {limits.max_steps} (GENERATION_MAX_STEPS).",
            field="steps",
            limit=limits.max_steps,
        )


def check_add_to_library(
    request: GenerateRequest, add_to_library: AddToLibrary, *, durable_jobs: bool, library_server: bool
) -> None:
    """`addToLibrary` needs a library, and one the job can write: a durable queue's job runs
    in a worker process, which cannot open the API's embedded store (`library_server`:
    QDRANT_URL is set)."""
    if not request.add_to_library:
        return
    if isinstance(add_to_library, LibraryUnavailable):
        raise add_to_library.error("`addToLibrary`", "addToLibrary")
    if durable_jobs and not library_server:
        raise ConflictError(
            "`addToLibrary` with REDIS_URL needs QDRANT_URL (a Qdrant server) so the job worker "
            "can write the library; the embedded store belongs to the API process.",
            field="addToLibrary",
        )


def check_edit(request: GenerateRequest, *, base_file: bool = False, mask_file: bool = False) -> None:
    """The edit fields fit together: a mask, a strength or an edit mode needs a base picture,
    a mode needs a mask, and a base is not combined with a sketch (both would be the start
    picture). `base_file` / `mask_file`: sent as multipart files instead of fields."""
    base = request.base_image is not None or base_file
    mask = request.mask is not None or mask_file
    if request.base_image is not None and base_file:
        raise InvalidInputError("Send `baseImage` as a file or as a field, not both.", field="baseImage")
    if request.mask is not None and mask_file:
        raise InvalidInputError("Send `mask` as a file or as a field, not both.", field="mask")
    if mask and not base:
        raise InvalidInputError("`mask` needs a `baseImage` (the picture it masks).", field="mask")
    if request.strength is not None and not base:
        raise InvalidInputError("`strength` needs a `baseImage` (it says how far to move from it).", field="strength")
    if "edit_mode" in request.model_fields_set and not mask:
        raise InvalidInputError(f"`editMode` {request.edit_mode!r} needs a `mask`.", field="editMode")
    if base and request.sketch is not None:
        raise InvalidInputError(
            "Send a `sketch` or a `baseImage`, not both: each is the picture to start from.", field="sketch"
        )


def check_refs(request: GenerateRequest, uploads: int, resolve: ResolveLibraryImage) -> None:
    """Every ref's (and the base's) upload index names one of the `uploads` files sent, every
    file is used, and pictures by `id` have a library to come from."""
    named: list[tuple[str, str, ImageSource]] = [(f"refs[{i}]", f"refs.{i}", r) for i, r in enumerate(request.refs)]
    if request.base_image is not None:
        named.append(("baseImage", "baseImage", request.base_image))
    used = {source.upload for _, _, source in named if source.upload is not None}
    for name, path, source in named:
        if source.upload is not None and source.upload >= uploads:
            raise InvalidInputError(
                f"`{name}.upload` is {source.upload} but only {uploads} `refUploads` files were sent.",
                field=f"{path}.upload",
            )
        if source.id is not None and isinstance(resolve, LibraryUnavailable):
            raise resolve.error(f"`{name}.id` (a library picture)", f"{path}.id")
    for j in range(uploads):
        if j not in used:
            raise InvalidInputError(
                f'`refUploads[{j}]` is not used by any ref; reference it with {{"role": ..., "upload": {j}}} '
                f'(or `"baseImage": {{"upload": {j}}}`).',
                field="refUploads",
            )


def check_request(
    request: GenerateRequest,
    settings: Settings,
    *,
    uploads: int,
    resolve: ResolveLibraryImage,
    add_to_library: AddToLibrary,
    durable_jobs: bool,
    base_file: bool = False,
    mask_file: bool = False,
) -> None:
    """All of the above, first problem first."""
    check_limits(request, GenerationLimits.of(settings), base_file=base_file)
    check_edit(request, base_file=base_file, mask_file=mask_file)
    check_add_to_library(request, add_to_library, durable_jobs=durable_jobs, library_server=bool(settings.QDRANT_URL))
    check_refs(request, uploads, resolve)
