"""One Settings object for the whole service and the offline scripts.

Values come from the environment, then from `.env` in the working directory. Every field
is UPPER_CASE in the environment (``MODEL_NAME=ViT-B-32``). Sections below are grouped by
the package that reads them; keep new fields in their section.
"""

from __future__ import annotations

import logging
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, computed_field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DeviceName = Literal["auto", "cpu", "cuda"]

log = logging.getLogger(__name__)

# The seed project's `.env` names (shared/seeds 002, "Configure environment"). Those with a
# Clippy equivalent are read as it (a field's AliasChoices); the others mean nothing here.
# Either way a line in the log says so, rather than the name being silently dropped.
SEED_ALIASES: dict[str, str] = {"QDRANT_COLLECTION": "COLLECTION"}
SEED_UNUSED: dict[str, str] = {
    "PRECISION": "the embedders choose their precision by DEVICE",
    "PROMPT_LOG_LEVEL": "LOG_LEVEL sets the level of every logger",
    "GEMINI_VISION_MODEL": "captions come from DESCRIBE_MODEL (POST /images/describe)",
}


def seed_env_notes(env_file: str | os.PathLike[str] | None = ".env") -> list[str]:
    """One deprecation line per seed `.env` name set in the environment or in `env_file`."""
    names = {k.upper() for k in os.environ}
    if env_file is not None and Path(env_file).is_file():
        names |= {k.upper() for k in dotenv_values(env_file)}
    notes = [
        f"{old} is deprecated (the seed's name): read as {new} (which wins where both are set); rename it to {new}."
        for old, new in SEED_ALIASES.items()
        if old in names
    ]
    notes += [
        f"{old} is deprecated (the seed's name) and ignored: {why}." for old, why in SEED_UNUSED.items() if old in names
    ]
    return notes


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    ENVIRONMENT: Literal["development", "test", "production"] = "development"

    # --- embedding (app/embedding) -------------------------------------------------------
    MODEL_NAME: str = "ViT-B-32"
    # An OpenCLIP pretrained tag, a local checkpoint path, or `random` (tests and demos only).
    PRETRAINED: str = "laion2b_s34b_b79k"
    # PRETRAINED=random draws the weights from this seed, so every process holds the same
    # model; the collection records it and refuses another.
    RANDOM_SEED: int = Field(default=0, ge=0)
    DEVICE: DeviceName = "auto"
    # `clip` uses the OpenCLIP text tower for the `text` view; anything else names a
    # sentence-transformers model or folder (`all-MiniLM-L6-v2` is packaged offline).
    TEXT_MODEL: str = "clip"
    TEXT_TEMPLATE: str = "an illustration with {tags}"
    # Where OpenCLIP / Hugging Face look for cached weights; None keeps their defaults.
    MODEL_CACHE_DIR: Path | None = None
    # Extra OpenCLIP model configs (a JSON file or a folder of them), loadable by MODEL_NAME.
    MODEL_CONFIGS: Path | None = None
    EMBED_BATCH_SIZE: int = Field(default=32, ge=1, le=1024)

    # --- storage (app/storage) -------------------------------------------------------------
    QDRANT_PATH: Path = Path("./data/qdrant")
    # A server or cluster URL wins over QDRANT_PATH. `:memory:` or `local:/some/dir`
    # selects qdrant-client's local mode (tests stand it in for a server).
    QDRANT_URL: str | None = None
    QDRANT_API_KEY: str | None = None
    COLLECTION: str = Field(default="clippy", validation_alias=AliasChoices("COLLECTION", "QDRANT_COLLECTION"))
    IMAGES_ROOT: Path = Path("./assets/sample")
    THUMBS_ROOT: Path = Path("./data/thumbs")
    THUMB_SIZE: int = Field(default=256, ge=32, le=1024)
    # POST /atlas: the most ids one atlas packs, and how long its pages stay downloadable.
    ATLAS_MAX_IDS: int = Field(default=500, ge=1, le=5000)
    ATLAS_TTL_S: float = Field(default=3600, gt=0)
    # Points above which `embed_and_upsert` builds the HNSW index when it finishes.
    OPTIMIZE_THRESHOLD: int = Field(default=20_000, ge=0)
    # Embedded engine: segments whose vectors exceed this many KB get an HNSW index when
    # optimised and are searched through it (Qdrant's `indexing_threshold` and
    # `full_scan_threshold`); smaller ones are scanned exactly. None = the engine's defaults.
    HNSW_INDEXING_THRESHOLD_KB: int | None = Field(default=None, ge=1)
    DEFAULT_LIBRARY: str = "default"
    # Picture/edge vectors by file content and embedding space (SQLite); None disables it.
    EMBED_CACHE_PATH: Path | None = Path("./data/embed_cache.sqlite")

    # --- search (app/search) ---------------------------------------------------------------
    # Each view prefetches (offset + limit) * CANDIDATE_FACTOR candidates, at least MIN_POOL;
    # the exact re-rank calibrates each view on its top MIN_POOL. 200, not 64: bounds from a
    # longer list are wider and clip fewer one-view outliers to 0 (sketch+text mixes, mAP@10
    # 0.917 -> 0.935 on the eval800 tune split; bench/README.md, "Fusion vs exact re-rank").
    CANDIDATE_FACTOR: int = Field(default=4, ge=1, le=64)
    MIN_POOL: int = Field(default=200, ge=1, le=10_000)
    HNSW_EF: int = Field(default=256, ge=8, le=8192)
    # The most hits one page returns (`limit`), and how deep paging may go: offset (or a
    # cursor's position) + limit. The pool and `hnsw_ef` grow with depth, so an unbounded
    # cursor would be an unbounded query.
    MAX_LIMIT: int = Field(default=200, ge=1, le=1000)
    MAX_DEPTH: int = Field(default=2_000, ge=1, le=100_000)

    # --- cross-modal RAG (app/search/complementary) ---------------------------------------
    # A prompt decomposes into at most this many sub-queries (POST /search/decompose).
    RAG_MAX_SUBQUERIES: int = Field(default=8, ge=1, le=32)
    # A spaCy pipeline with a parser; when it is not installed, a rule-based chunker over
    # spaCy's tokenizer decomposes prompts (a warning is logged). Empty: always the rules.
    RAG_SPACY_MODEL: str = "en_core_web_sm"
    # A reference "covers" a sub-query when its 0..1 score on it is at least this.
    RAG_COVER_THRESHOLD: float = Field(default=0.5, ge=0, le=1)
    # Exact subset search while at most this many subsets need trying; greedy beyond.
    RAG_EXACT_MAX_SUBSETS: int = Field(default=20_000, ge=0, le=10_000_000)

    # --- input bounds (app/imaging) --------------------------------------------------------
    MAX_UPLOAD_BYTES: int = Field(default=20 * 1024 * 1024, ge=1024)
    MAX_IMAGE_PIXELS: int = Field(default=40_000_000, ge=1024)
    # A sketch is a drawing from a canvas, not a photo: a smaller cap (4096x4096).
    MAX_SKETCH_PIXELS: int = Field(default=4096 * 4096, ge=1024)
    # Images in requests (search, describe) are decoded no larger than needed for this side
    # (JPEG at 1/2..1/8 scale, others box-reduced): the encoders use at most 512 px (edges) and
    # 224 px (CLIP); the captioner 384 px. Generation refs and sketches use REF_MAX_SIDE.
    REQUEST_IMAGE_MAX_SIDE: int = Field(default=1024, ge=256, le=8192)
    # Requests that decode and encode images at once (one decoded upload can cost ~150 MB).
    # Others wait up to IMAGE_SLOT_WAIT_S, then get 503 with Retry-After.
    IMAGE_SLOTS: int = Field(default=4, ge=1, le=256)
    IMAGE_SLOT_WAIT_S: float = Field(default=5.0, ge=0, le=300)

    # --- generation (app/generation) -------------------------------------------------------
    # The provider a request without `provider` uses: sdxl | imagen | gemini.
    GENERATION_PROVIDER: Literal["sdxl", "imagen", "gemini"] = "sdxl"
    # Generated images + their `.json` sidecars; served at /generated/{name}.
    GENERATED_ROOT: Path = Path("./data/generated")
    GENERATION_MAX_REFS: int = Field(default=4, ge=0, le=16)
    # The seed client's synchronous POST /generate_image (app/api/routes/compat.py) waits this
    # long for its job, then answers 202 + Location like /images/generate.
    COMPAT_GENERATE_WAIT_S: float = Field(default=120.0, ge=0, le=600)
    GENERATION_MAX_N: int = Field(default=4, ge=1, le=8)
    GENERATION_MAX_STEPS: int = Field(default=100, ge=1, le=500)
    # Reference images are normalised (RGB PNG, longest side at most this) when a job is queued.
    REF_MAX_SIDE: int = Field(default=1024, ge=64, le=4096)
    # Load the default provider's weights at start-up instead of on the first job.
    GENERATION_PRELOAD: bool = False
    # Remote reference URLs: http/https only, bounded by time and MAX_UPLOAD_BYTES.
    FETCH_TIMEOUT_S: float = Field(default=10.0, gt=0, le=120)
    # Allow URLs that resolve to private/loopback/link-local addresses (development only).
    FETCH_ALLOW_PRIVATE: bool = False
    # SDXL + IP-Adapter (diffusers). Model ids are Hub ids or local folders; DEVICE picks the device.
    SDXL_MODEL: str = "stabilityai/stable-diffusion-xl-base-1.0"
    SDXL_VARIANT: str | None = None  # e.g. `fp16` to fetch the half-precision files
    SDXL_MAX_SIDE: int = Field(default=2048, ge=64, le=4096)
    SDXL_DEFAULT_STEPS: int = Field(default=30, ge=1, le=500)
    SDXL_DEFAULT_GUIDANCE: float = Field(default=5.0, ge=0, le=50)
    SDXL_ATTENTION_SLICING: bool = False
    SDXL_VAE_TILING: bool = False
    # none | model (enable_model_cpu_offload) | sequential (slowest, least GPU memory).
    SDXL_CPU_OFFLOAD: Literal["none", "model", "sequential"] = "none"
    # A scribble ControlNet (e.g. xinsir/controlnet-scribble-sdxl-1.0): when set, a sketch steers
    # generation through it (sketchWeight → conditioning scale) instead of img2img.
    SDXL_CONTROLNET_MODEL: str | None = None
    # None disables references on the sdxl provider (requests with refs get a 422).
    IP_ADAPTER_MODEL: str | None = "h94/IP-Adapter"
    IP_ADAPTER_SUBFOLDER: str = "sdxl_models"
    IP_ADAPTER_WEIGHT_NAME: str = "ip-adapter_sdxl.safetensors"
    IP_ADAPTER_IMAGE_ENCODER_FOLDER: str = "image_encoder"
    # Block-wise IP-Adapter scales per role (InstantStyle): a number applies to every block,
    # a dict like {"up": {"block_0": [0.0, 1.0, 0.0]}} to the named blocks only (others 0).
    IP_ADAPTER_STYLE_BLOCKS: float | dict[str, Any] = {"up": {"block_0": [0.0, 1.0, 0.0]}}
    IP_ADAPTER_SUBJECT_BLOCKS: float | dict[str, Any] = {
        "down": {"block_2": [0.0, 1.0]},
        "up": {"block_0": [0.0, 1.0, 0.0]},
    }
    # `composition` refs: layout only (InstantStyle's layout block), same adapter as style/subject.
    IP_ADAPTER_COMPOSITION_BLOCKS: float | dict[str, Any] = {"down": {"block_2": [0.0, 1.0]}}
    # `face` refs: a second IP-Adapter, loaded from IP_ADAPTER_MODEL/IP_ADAPTER_FACE_SUBFOLDER beside
    # the first, e.g. ip-adapter-plus-face_sdxl_vit-h.safetensors (subfolder sdxl_models). Both share
    # one image encoder, so pair it with the ViT-H base (IP_ADAPTER_WEIGHT_NAME=ip-adapter_sdxl_vit-h.
    # safetensors, IP_ADAPTER_IMAGE_ENCODER_FOLDER=models/image_encoder). Unset: face refs get a 422.
    IP_ADAPTER_FACE_WEIGHT_NAME: str | None = None
    IP_ADAPTER_FACE_SUBFOLDER: str = "sdxl_models"
    IP_ADAPTER_FACE_BLOCKS: float | dict[str, Any] = 1.0
    # The face crop (no face detector ships offline): a square of this share of the shorter side,
    # centred horizontally and a little above centre, where portraits put the face.
    IP_ADAPTER_FACE_CROP: float = Field(default=0.7, gt=0.0, le=1.0)
    # Imagen and Gemini through google-genai in Vertex AI mode; credentials come from the
    # standard Google environment (GOOGLE_APPLICATION_CREDENTIALS / gcloud ADC).
    GOOGLE_CLOUD_PROJECT: str | None = None
    GOOGLE_CLOUD_LOCATION: str = "us-central1"
    IMAGEN_MODEL: str = "imagen-3.0-generate-002"
    # Reference-guided (subject/style) generation needs Imagen's capability model.
    IMAGEN_EDIT_MODEL: str = "imagen-3.0-capability-001"
    # Vertex only honours `seed` without the SynthID watermark; with it on, seeds are not sent.
    IMAGEN_ADD_WATERMARK: bool = True
    GEMINI_IMAGE_MODEL: str = "gemini-2.5-flash-image"
    GOOGLE_TIMEOUT_S: float = Field(default=120.0, gt=0, le=600)
    # A request waits at most this long for a model to load (it goes on loading in the
    # background); a failed or unfinished load is the answer (503 + Retry-After) for
    # MODEL_RETRY_S before it is tried again. Weights not on disk are fetched only when the
    # Hub can be reached (HF_HUB_OFFLINE unset, a connection within 2 s).
    MODEL_LOAD_TIMEOUT_S: float = Field(default=30.0, gt=0, le=3600)
    MODEL_RETRY_S: float = Field(default=300.0, ge=0, le=86400)
    # Image → text (POST /images/describe): a transformers image-to-text model id or folder.
    DESCRIBE_MODEL: str = "Salesforce/blip-image-captioning-base"
    DESCRIBE_MAX_TOKENS: int = Field(default=30, ge=1, le=256)
    # Imports caption their untagged pictures (AUTO_CAPTION_SOURCE; caption + tags, stored
    # with `caption_generated: true` until a person edits them, PATCH /images/{id}). `auto`: on
    # when its model is already on disk (an import never downloads it), off with a note in
    # the import's result otherwise; `on`: always (a model that cannot load is a note, never a
    # failed import); `off`: never.
    AUTO_CAPTION: Literal["auto", "on", "off"] = "auto"
    # `describe`: DESCRIBE_MODEL's caption, tags from its words. `story`: the story provider
    # (STORY_PROVIDER/STORY_MODEL): its title and first sentence, its subjects as tags.
    AUTO_CAPTION_SOURCE: Literal["describe", "story"] = "describe"
    AUTO_CAPTION_MAX_TAGS: int = Field(default=8, ge=0, le=32)

    # --- stories (app/stories) ---------------------------------------------------------------
    # Image → story: `transformers` (a local vision-language model, STORY_MODEL) or `gemini`
    # (GEMINI_STORY_MODEL through the google-genai client, Vertex AI settings above).
    STORY_PROVIDER: Literal["transformers", "gemini"] = "transformers"
    # Any AutoModelForImageTextToText model with a chat template, id or folder. Unset: what fits
    # the device — llava-hf/llava-1.5-7b-hf (the seed's) on CUDA, SmolVLM-256M-Instruct on CPU.
    STORY_MODEL: str | None = None
    STORY_MAX_TOKENS: int = Field(default=400, ge=1, le=4096)
    # Load STORY_MODEL in 8-bit (bitsandbytes; CUDA only, refused with a message elsewhere).
    STORY_LOAD_IN_8BIT: bool = False
    GEMINI_STORY_MODEL: str = "gemini-2.5-flash"
    # A local model unused this long is unloaded (weights freed, CUDA memory returned), so one
    # GPU can host the story and image models in turn; 0 keeps it loaded.
    MODEL_IDLE_UNLOAD_S: float = Field(default=600.0, ge=0, le=86400)
    # Storyboards: frames per request at most, and how many earlier frames / generations /
    # library images each frame retrieves as references (the seed's TOP_K_RETRIEVAL).
    STORYBOARD_MAX_FRAMES: int = Field(default=12, ge=1, le=64)
    TOP_K_RETRIEVAL: int = Field(default=5, ge=0, le=32)
    # OpenTelemetry traces (API submit → job → provider) to this OTLP/HTTP endpoint, e.g.
    # http://localhost:4318 or Langfuse's OTLP endpoint; unset: off, nothing imported.
    OTEL_EXPORTER_OTLP_ENDPOINT: str | None = None

    # --- jobs (app/jobs) ---------------------------------------------------------------------
    # Unset: an in-process worker pool (jobs are lost on restart). Set: arq on Redis, records
    # survive restarts, and `python -m app.jobs.worker` runs the jobs.
    REDIS_URL: str | None = None
    JOB_CONCURRENCY: int = Field(default=1, ge=1, le=64)
    # Queued + running jobs above which a new submission gets 429.
    JOB_QUEUE_LIMIT: int = Field(default=64, ge=1, le=100_000)
    # Tries for transient failures (ProviderError marked retryable), with exponential backoff.
    JOB_MAX_TRIES: int = Field(default=3, ge=1, le=20)
    JOB_RETRY_BACKOFF_S: float = Field(default=2.0, ge=0, le=600)
    # How long finished job records are kept.
    JOB_TTL_S: int = Field(default=7 * 24 * 3600, ge=60)
    # How long an Idempotency-Key is remembered (at most JOB_TTL_S): a retry within it gets
    # the first job, another request with it a 422; past it the key is free again.
    IDEMPOTENCY_TTL_S: float = Field(default=24 * 3600, gt=0)
    # One attempt of a job is stopped (failed, code `timeout`) after this long.
    JOB_TIMEOUT_S: int = Field(default=3600, ge=1)
    JOB_QUEUE_NAME: str = "clippy:jobs"
    # On shutdown (API lifespan end, worker SIGTERM), running jobs get this long to finish
    # before they are cancelled and marked interrupted.
    JOB_DRAIN_S: float = Field(default=30.0, ge=0, le=3600)

    # --- imports (app/library/imports/) ------------------------------------------------------
    # Server-side folders `POST /libraries/{library}/imports {"folder": ...}` may read.
    IMPORT_ROOTS: list[Path] = []
    IMPORT_MAX_URLS: int = Field(default=500, ge=1, le=100_000)
    ZIP_MAX_ENTRIES: int = Field(default=10_000, ge=1)
    # What one import request may unpack from its ZIPs, all together, and also the bound on an
    # import request's body. 512 MiB: the disk a small server can spare per request; memory
    # stays O(1) per ZIP (members stream to disk). Cost model in docs/operations.md.
    ZIP_MAX_TOTAL_BYTES: int = Field(default=512 * 1024**2, ge=1024)
    ZIP_MAX_RATIO: float = Field(default=100.0, ge=1)
    # Staged import files that no point refers to (a killed import's) are swept at start once
    # untouched this long; longer than any import runs or waits queued, so one in flight on
    # another worker keeps its files.
    IMPORT_ORPHAN_GRACE_S: float = Field(default=3600.0, ge=0)

    # --- client (client/) ------------------------------------------------------------------
    # The production build of the sketch client, served at `/` when present.
    CLIENT_DIST: Path = Path(__file__).resolve().parent.parent / "client" / "dist"

    # --- security and operations (app/api) -------------------------------------------------
    # API keys, comma-separated: `key` (read scope), `key:admin`, or bound to an owner (a user
    # or team) as `key:read:alice` / `key:admin:alice`: such a key sees its owner's libraries,
    # the public ones and the default library, and writes only its owner's. A key without an
    # owner is an operator key (every library). Unset: no key is needed, everything is allowed.
    API_KEYS: str | None = None
    # Browser origins allowed to call the API, comma-separated (`*` for any). Unset: no CORS.
    CORS_ORIGINS: str | None = None
    # Requests per API key (per client IP without one), `limits` notation: `600/minute;50/second`.
    RATE_LIMIT: str | None = None
    # Where rate-limit counters live: memory:// (one process) or redis://host:6379 (shared).
    RATE_LIMIT_STORAGE: str = "memory://"
    # Addresses (comma-separated IPs or networks, `*` for any) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed: the proxy in front. Empty: no forwarded header is believed
    # and the client address is the connection's (uvicorn's own default trusts 127.0.0.1, which
    # lets local clients pick their rate-limit address). The same variable uvicorn's CLI reads.
    FORWARDED_ALLOW_IPS: str = ""
    # A whole request body above this gets 413 before it is read.
    MAX_REQUEST_BYTES: int = Field(default=64 * 1024 * 1024, ge=1024)
    # A collection created on a Qdrant cluster (QDRANT_URL): shards, copies of each shard, and
    # copies a write must reach before it is acknowledged. Unset: the server's defaults (1, 1, 1).
    QDRANT_SHARDS: int | None = Field(default=None, ge=1, le=1024)
    QDRANT_REPLICAS: int | None = Field(default=None, ge=1, le=64)
    QDRANT_WRITE_CONSISTENCY: int | None = Field(default=None, ge=1, le=64)
    LOG_FORMAT: Literal["text", "json"] = "text"
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    METRICS_ENABLED: bool = True

    # --- library (app/library) -------------------------------------------------------------
    # Near duplicates: image-vector cosine at or above this (GET /images/duplicates, find_duplicates).
    DUPLICATE_THRESHOLD: float = Field(default=0.95, ge=0, le=1)
    # Library records (owner, visibility; app/library/registry.py), SQLite. None: next to
    # the store, QDRANT_PATH/<COLLECTION>.libraries.sqlite.
    LIBRARIES_DB: Path | None = None
    # Personalisation (app/library/profiles.py): feedback events, SQLite; None: beside the
    # registry, QDRANT_PATH/<COLLECTION>.profiles.sqlite. An event's weight halves every
    # PROFILE_HALF_LIFE_DAYS; `personalize: true` moves a hit's score by at most PROFILE_MAX_BOOST.
    PROFILES_DB: Path | None = None
    PROFILE_HALF_LIFE_DAYS: float = Field(default=30.0, gt=0, le=3650)
    PROFILE_MAX_BOOST: float = Field(default=0.1, ge=0, le=1)
    # Trained projection heads (scripts/finetune_adapter.py): <ADAPTERS_ROOT>/<COLLECTION>/<name>.*
    ADAPTERS_ROOT: Path = Path("./data/adapters")
    # A trained adapter to apply at ingest and query: a path, `<collection>/<name>` under
    # ADAPTERS_ROOT, or `<name>` under ADAPTERS_ROOT/COLLECTION. Its image head maps `image`
    # picture vectors, its text head text queries of the `image` view; `edge` and `text` stay
    # frozen. Part of the embedding space: a collection ingested without it (or with another)
    # refuses it — re-ingest into a new COLLECTION (the embedding cache spares the model). Unset: none.
    ADAPTER: str | None = None

    # --- demo (main.py) --------------------------------------------------------------------
    # Seed the default library from IMAGES_ROOT's manifest.jsonl once (app/services.py).
    AUTO_INGEST: bool = True

    @model_validator(mode="before")
    @classmethod
    def _seed_names(cls, data: Any) -> Any:
        env_file = cls.model_config.get("env_file")
        for note in seed_env_notes(env_file if isinstance(env_file, str | os.PathLike) else None):
            log.warning(note)
        return data

    @field_validator("PRETRAINED", "MODEL_NAME", "TEXT_MODEL")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def uses_server(self) -> bool:
        """True when qdrant-client serves the store (a server, a cluster, or local mode)."""
        return bool(self.QDRANT_URL)

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def random_weights(self) -> bool:
        return self.PRETRAINED.lower() == "random"


def get_settings() -> Settings:
    return Settings()
