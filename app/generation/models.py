"""Request and job-parameter models for generation (camelCase on the wire, see CONTRACT.md)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, BeforeValidator, Field, model_validator

from app.models import CamelModel, LenientCamelModel

# `face`: an identity reference (SDXL: the IP-Adapter face weights on a face crop; Imagen: a
# person subject). `composition`: layout only (SDXL: the layout block; Imagen refuses it).
Role = Literal["style", "subject", "face", "composition"]
ROLES: tuple[str, ...] = ("style", "subject", "face", "composition")
# What a masked edit does (Imagen's edit modes; SDXL does the first two, Gemini all four).
EditMode = Literal["inpaint-insert", "inpaint-remove", "background-swap", "outpaint"]
EDIT_MODES: tuple[str, ...] = ("inpaint-insert", "inpaint-remove", "background-swap", "outpaint")
# The seed: "low denoise/strength (0.2–0.35) to retain identity" for img2img from a subject.
DEFAULT_IMG2IMG_STRENGTH = 0.3
# Inpainting repaints the masked area almost from noise (diffusers' own default is 0.9999).
DEFAULT_INPAINT_STRENGTH = 0.99
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


class ImageSource(CamelModel):
    """A picture a request names: exactly one of id, url, image, upload. Refs and the
    `baseImage` share it, and are resolved the same way (GenerationService.resolve_source)."""

    noun: ClassVar[str] = "an image"

    id: ImageId | None = Field(default=None, description="A library image id (a number is read as its digits).")
    url: str | None = Field(default=None, description="An http(s) URL the server fetches.")
    image: str | None = Field(default=None, description="A data URL (JSON requests).")
    upload: int | None = Field(default=None, ge=0, description="Index into the multipart `refUploads` files.")

    @model_validator(mode="after")
    def _one_source(self) -> ImageSource:
        given = [k for k in ("id", "url", "image", "upload") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"{self.noun} needs exactly one of `id`, `url`, `image`, `upload` but has {given or 'none'}"
            )
        return self

    @property
    def source(self) -> dict[str, Any]:
        """How the picture was named, for the sidecar (an inline image is not repeated there)."""
        for key in ("id", "url", "upload"):
            if (value := getattr(self, key)) is not None:
                return {key: value}
        return {"image": "inline"}


class RefSpec(ImageSource):
    """One reference image with its role and weight. Exactly one of id, url, image, upload."""

    noun: ClassVar[str] = "a ref"

    role: Role
    weight: float = Field(
        default=1.0,
        ge=0.0,
        le=REF_WEIGHT_MAX,
        description="0–1. SDXL: the IP-Adapter scale of this image (× its role's block scales). Imagen: orders "
        "and drops references (no weights there). Gemini: stated in the instruction.",
    )


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
    # The seed's per-role strengths (002's "Recommended patterns": style-first, subject-first).
    style_weight: float | None = Field(
        default=None,
        ge=0.0,
        le=REF_WEIGHT_MAX,
        description="The `weight` of each `style` ref that sends none of its own.",
    )
    subject_weight: float | None = Field(
        default=None,
        ge=0.0,
        le=REF_WEIGHT_MAX,
        description="The `weight` of each `subject` ref that sends none of its own.",
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
    # Editing (app/generation/mask.py): start from a picture, optionally under a mask.
    base_image: ImageSource | None = Field(
        default=None,
        description="The picture to start from (exactly one of `id`, `url`, `image`, `upload`; multipart may send "
        "a `baseImage` file instead). Without `mask`: img2img from it. With `mask`: an edit of the masked area. "
        "Without `width`/`height` the result takes the base's aspect.",
    )
    strength: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description=f"How far the result may move from `baseImage` (0 < strength ≤ 1). Default "
        f"{DEFAULT_IMG2IMG_STRENGTH} without a mask (img2img keeps the subject), {DEFAULT_INPAINT_STRENGTH} "
        "with one (the masked area is repainted). Needs `baseImage`.",
    )
    mask: str | None = Field(
        default=None,
        description="A data URL (JSON requests; multipart sends a `mask` file): white = edit, black = keep. Needs "
        "`baseImage`; same aspect as the base, resized to it; black and white (after a threshold at 50 %); "
        "neither empty nor all white (unless `allowFullMask`). Transparent pixels count as white.",
    )
    edit_mode: EditMode = Field(
        default="inpaint-insert",
        description="What a masked edit does. sdxl: inpaint-insert, inpaint-remove; imagen: all four; gemini: all "
        "four (stated in the instruction). Needs `mask` when sent.",
    )
    allow_full_mask: bool = Field(default=False, description="Accept an all-white `mask` (repaint everything).")

    @model_validator(mode="after")
    def _grounded(self) -> GenerateRequest:
        if self.grounding and self.complementary is None:
            raise ValueError("`grounding` is true but `complementary` (a /search/complementary answer) is missing")
        return self

    @model_validator(mode="after")
    def _role_weights(self) -> GenerateRequest:
        """`styleWeight` / `subjectWeight` become the weight of their role's refs that sent none."""
        by_role = {"style": self.style_weight, "subject": self.subject_weight}
        for ref in self.refs:
            default = by_role.get(ref.role)
            if default is not None and "weight" not in ref.model_fields_set:
                ref.weight = default
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
    # Edits: the stored base (and its source), the binary mask at the base's size, the
    # strength actually used (the defaults resolved at submit) and the mode of a masked edit.
    base_image: str | None = None
    base_source: dict[str, Any] | None = None
    strength: float | None = None
    mask: str | None = None
    edit_mode: EditMode | None = None


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
