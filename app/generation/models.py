"""Request and job-parameter models for generation (camelCase on the wire, see CONTRACT.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, model_validator

from app.models import CamelModel, LenientCamelModel

Role = Literal["style", "subject"]
ProviderName = Literal["sdxl", "imagen", "gemini"]
PROVIDERS: tuple[str, ...] = ("sdxl", "imagen", "gemini")

REF_WEIGHT_MAX = 1.0
MAX_PROMPT_CHARS = 2000


def _id_as_text(value: Any) -> Any:
    """The seed documents numeric ids (`"id": 12345`): an integer is the same id as its digits,
    so an unknown one is a 404 naming it, not a type error. Booleans stay refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


ImageId = Annotated[str, BeforeValidator(_id_as_text)]


# --- grounding: a /search/complementary answer posted as is (app/generation/grounding.py) ---


class _Loose(LenientCamelModel):
    """Accepts the search answer as is: unknown keys are ignored, not refused."""


class GroundingSubQuery(_Loose):
    id: str = Field(max_length=32)
    text: str = Field(max_length=200)
    kind: str = "subject"
    weight: float = Field(default=1.0, ge=0, le=10)


class GroundingRef(_Loose):
    id: str = Field(description="A library image id.")
    coverage: dict[str, float] = Field(description="Sub-query id → score (0..1).")


class Grounding(_Loose):
    """The POST /search/complementary answer (its `subQueries` and `refs` are used)."""

    sub_queries: list[GroundingSubQuery] = Field(min_length=1, max_length=32)
    refs: list[GroundingRef] = Field(min_length=1, max_length=16)


class RefSpec(CamelModel):
    """One reference image with its role and weight. Exactly one of id, url, image, upload."""

    role: Role
    id: ImageId | None = Field(default=None, description="A library image id (a number is read as its digits).")
    url: str | None = Field(default=None, description="An http(s) URL the server fetches.")
    image: str | None = Field(default=None, description="A data URL (JSON requests).")
    upload: int | None = Field(default=None, ge=0, description="Index into the multipart `refUploads` files.")
    weight: float = Field(
        default=1.0,
        ge=0.0,
        le=REF_WEIGHT_MAX,
        description="0–1. SDXL: the IP-Adapter scale of this image. Imagen: orders and drops "
        "references (no weights there). Gemini: stated in the instruction.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> RefSpec:
        given = [k for k in ("id", "url", "image", "upload") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a ref needs exactly one of `id`, `url`, `image`, `upload` but has {given or 'none'}")
        return self

    @property
    def source(self) -> dict[str, Any]:
        for key in ("id", "url", "upload"):
            if (value := getattr(self, key)) is not None:
                return {key: value}
        return {"image": "inline"}


class GenerateRequest(CamelModel):
    """POST /images/generate. Sizes, counts and steps are checked against the provider."""

    prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    negative_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    refs: list[RefSpec] = Field(default_factory=list)
    sketch: str | None = Field(default=None, description="A data URL (JSON requests).")
    sketch_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="How closely to follow the sketch: 0 ignores it, 1 keeps it almost as is "
        "(SDXL img2img strength = 1 - sketchWeight).",
    )
    provider: ProviderName | None = None
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    width: int = Field(default=1024, ge=64, le=4096)
    height: int = Field(default=1024, ge=64, le=4096)
    # `count` is the seed's name for it (002's documented request).
    n: int = Field(
        default=1,
        ge=1,
        validation_alias=AliasChoices("n", "count"),
        description="Images to make; `count` is accepted as an alias.",
    )
    steps: int | None = Field(default=None, ge=1)
    guidance: float | None = Field(default=None, ge=0.0, le=50.0)
    add_to_library: bool = False
    library: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="With `addToLibrary`: the library to add into, one the key owns (default: DEFAULT_LIBRARY "
        "where the key may write it).",
    )
    # Cross-modal RAG (app/generation/grounding.py): `complementary` is a /search/complementary
    # answer; its refs join `refs` with roles and weights from what they cover.
    grounding: bool = Field(default=False, description="Use `complementary` as grounded references.")
    complementary: Grounding | None = Field(default=None, description="The /search/complementary answer, as is.")

    @model_validator(mode="after")
    def _grounded(self) -> GenerateRequest:
        if self.grounding and self.complementary is None:
            raise ValueError("`grounding` is true but `complementary` (a /search/complementary answer) is missing")
        return self


class RefParam(CamelModel):
    """A resolved reference inside a job's params: the normalised image under GENERATED_ROOT."""

    role: Role
    weight: float
    file: str
    source: dict[str, Any]


class GenerateParams(CamelModel):
    """The JSON params of a `generate` job (what a worker needs, nothing it must fetch)."""

    provider: ProviderName
    prompt: str
    negative_prompt: str | None = None
    refs: list[RefParam] = Field(default_factory=list)
    sketch: str | None = None
    sketch_weight: float = 0.5
    seed: int | None = None
    width: int
    height: int
    n: int = 1
    steps: int | None = None
    guidance: float | None = None
    add_to_library: bool = False
    library: str | None = None  # where addToLibrary adds; checked against the caller at submit
    owner: str | None = None  # the key's owner (app/library/access.py): who may fetch the results
    # Grounded requests: per sub-query, which ref (index into `refs`) informed it.
    attribution: list[dict[str, Any]] | None = None


class GeneratedImage(CamelModel):
    url: str = Field(description="/generated/<file>.png")
    id: str | None = Field(description="The library image id, when `addToLibrary` added it.")
    seed: int | None = None


class Attribution(CamelModel):
    """Per sub-query of a grounded generation: which reference informed it."""

    sub_query_id: str
    text: str
    kind: str
    ref_id: str | None
    ref_index: int | None = Field(description="Index into the job's refs (the request's own refs come first).")
    role: Role | None
    weight: float | None
    score: float


class GenerateResult(CamelModel):
    """The `result` of a succeeded `generate` job (the job handler writes it as JSON)."""

    images: list[GeneratedImage]
    provider: str
    model: str
    seed: int | None = Field(description="The seed actually used (null where the provider could not honour one).")
    notes: list[str] = Field(default_factory=list)
    attribution: list[Attribution] | None = Field(default=None, description="Grounded requests only.")


class DescribeRequest(CamelModel):
    image: str | None = Field(default=None, description="A data URL (JSON requests).")
    id: ImageId | None = Field(default=None, description="A library image id (a number is read as its digits).")
    prompt: str | None = Field(default=None, max_length=500, description="Optional caption prefix.")


class DescribeResponse(CamelModel):
    caption: str
    model: str
