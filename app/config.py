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

    # development | test | production: production refuses unsafe defaults.
    ENVIRONMENT: Literal["development", "test", "production"] = "development"

    # --- embedding (app/embedding) -------------------------------------------------------
    # An OpenCLIP architecture (open_clip.list_models(), or one from MODEL_CONFIGS).
    MODEL_NAME: str = "ViT-B-32"
    # An OpenCLIP pretrained tag, a local checkpoint path, or `random` (tests and demos only).
    PRETRAINED: str = "laion2b_s34b_b79k"
    # PRETRAINED=random draws the weights from this seed, so every process holds the same
    # model; the collection records it and refuses another.
    RANDOM_SEED: int = Field(default=0, ge=0)
    # auto: CUDA when present (fp16 autocast), else the CPU.
    DEVICE: DeviceName = "auto"
    # `clip` uses the OpenCLIP text tower for the `text` view; anything else names a
    # sentence-transformers model or folder (`all-MiniLM-L6-v2` is packaged offline).
    TEXT_MODEL: str = "clip"
    # The sentence the `text` view embeds per item; {tags} becomes its tags.
    TEXT_TEMPLATE: str = "an illustration with {tags}"
    # Where OpenCLIP / Hugging Face look for cached weights; None keeps their defaults.
    MODEL_CACHE_DIR: Path | None = None
    # Extra OpenCLIP model configs (a JSON file or a folder of them), loadable by MODEL_NAME.
    MODEL_CONFIGS: Path | None = None
    # Images per model forward at ingest.
    EMBED_BATCH_SIZE: int = Field(default=32, ge=1, le=1024)

    # --- storage (app/storage) -------------------------------------------------------------
    # The embedded engine's folder (the library and profile databases live beside it).
    QDRANT_PATH: Path = Path("./data/qdrant")
    # A server or cluster URL wins over QDRANT_PATH. `:memory:` or `local:/some/dir`
    # selects qdrant-client's local mode (tests stand it in for a server).
    QDRANT_URL: str | None = None
    # The Qdrant server's API key, with QDRANT_URL.
    QDRANT_API_KEY: str | None = None
    # The Qdrant collection (one embedding space each).
    COLLECTION: str = Field(default="clippy", validation_alias=AliasChoices("COLLECTION", "QDRANT_COLLECTION"))
    # Where payload paths resolve; imports land in imports/<library>/ under it.
    IMAGES_ROOT: Path = Path("./assets/sample")
    # The thumbnail cache (GET /thumb/{id}).
    THUMBS_ROOT: Path = Path("./data/thumbs")
    # Longest side of a thumbnail, px.
    THUMB_SIZE: int = Field(default=256, ge=32, le=1024)
    # POST /atlas: the most ids one atlas packs, and how long its pages stay downloadable.
    ATLAS_MAX_IDS: int = Field(default=500, ge=1, le=5000)
    # Seconds an atlas stays downloadable.
    ATLAS_TTL_S: float = Field(default=3600, gt=0)
    # Points above which `embed_and_upsert` builds the HNSW index when it finishes.
    OPTIMIZE_THRESHOLD: int = Field(default=20_000, ge=0)
    # Embedded engine: segments whose vectors exceed this many KB get an HNSW index when
    # optimised and are searched through it (Qdrant's `indexing_threshold` and
    # `full_scan_threshold`); smaller ones are scanned exactly. None = the engine's defaults.
    HNSW_INDEXING_THRESHOLD_KB: int | None = Field(default=None, ge=1)
    # Dense views of a collection this service creates (an existing one keeps its own): int8
    # scalar quantization kept in RAM, searched with QUANTIZATION_OVERSAMPLING × limit
    # candidates rescored on the original vectors; VECTORS_ON_DISK keeps the originals on
    # disk (memory-mapped). The exact re-rank always scores on the originals.
    QUANTIZATION: Literal["none", "int8"] = "none"
    # How many more candidates than the limit a quantized search rescores on the originals.
    QUANTIZATION_OVERSAMPLING: float = Field(default=2.0, ge=1.0, le=16.0)
    # Keep the original dense vectors on disk (memory-mapped) instead of in RAM.
    VECTORS_ON_DISK: bool = False
    # The library every key can read; AUTO_INGEST seeds it.
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
    # HNSW search breadth per view (it grows with paging depth). 512, not 256: at 100k points
    # the exact re-rank's recall@10 against brute force is 0.976 at 256 and 0.997 at 512, for
    # 16 → 25 ms (bench/README.md, "HNSW_EF"); below the indexing threshold searches scan exactly.
    HNSW_EF: int = Field(default=512, ge=8, le=8192)
    # Where the exact re-rank gets each candidate's per-view score: "engine" asks Qdrant for
    # ids and scores only (the views' lists, then one batched has_id search per view over the
    # candidates that can reach the page: app/search/pruning.py); "vectors"
    # copies every candidate's vectors out and takes the dot products here (the old path, kept
    # for A/B benchmarks: ~190 × 3 × 512 floats per query; bench/README.md, "Exact scores").
    EXACT_SCORES: Literal["engine", "vectors"] = "engine"
    # Query encoders under concurrent load (app/search/batching.py): requests queue per tower
    # and share one forward of up to ENCODE_BATCH_SIZE inputs; the worker waits up to
    # ENCODE_BATCH_WAIT_MS for company once it has a request. More than ENCODE_QUEUE_MAX
    # requests waiting on one tower: 503 with Retry-After. false: each request its own forward.
    # On by default, CPU too: ViT-B-32 at 50 clients, text 29.9 → 103 req/s, sketch 10.5 → 14.1
    # (bench/README.md, "Encoder micro-batching under load").
    ENCODE_BATCHING: bool = True
    ENCODE_BATCH_SIZE: int = Field(default=32, ge=1, le=1024)
    ENCODE_BATCH_WAIT_MS: float = Field(default=2.0, ge=0, le=1000)
    ENCODE_QUEUE_MAX: int = Field(default=256, ge=1, le=100_000)
    # The most hits one page returns (`limit`), and how deep paging may go: offset (or a
    # cursor's position) + limit. The pool and `hnsw_ef` grow with depth, so an unbounded
    # cursor would be an unbounded query.
    MAX_LIMIT: int = Field(default=200, ge=1, le=1000)
    # Deepest page end, offset (or cursor) + limit; 422 beyond.
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
    # Largest uploaded file (413 beyond).
    MAX_UPLOAD_BYTES: int = Field(default=20 * 1024 * 1024, ge=1024)
    # Largest decoded picture, in pixels (413 beyond).
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
    # Most references one generation takes.
    GENERATION_MAX_REFS: int = Field(default=4, ge=0, le=16)
    # The seed client's synchronous POST /generate_image (app/api/routes/compat.py) waits this
    # long for its job, then answers 202 + Location like /images/generate.
    COMPAT_GENERATE_WAIT_S: float = Field(default=120.0, ge=0, le=600)
    # Most images one generation makes.
    GENERATION_MAX_N: int = Field(default=4, ge=1, le=8)
    # Most diffusion steps a request may ask for.
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
    # Largest width or height SDXL is asked for, px.
    SDXL_MAX_SIDE: int = Field(default=2048, ge=64, le=4096)
    # Diffusion steps when a request sends none.
    SDXL_DEFAULT_STEPS: int = Field(default=30, ge=1, le=500)
    # Classifier-free guidance when a request sends none.
    SDXL_DEFAULT_GUIDANCE: float = Field(default=5.0, ge=0, le=50)
    # Less GPU memory, slower.
    SDXL_ATTENTION_SLICING: bool = False
    # Decode large images in tiles (less memory).
    SDXL_VAE_TILING: bool = False
    # none | model (enable_model_cpu_offload) | sequential (slowest, least GPU memory).
    SDXL_CPU_OFFLOAD: Literal["none", "model", "sequential"] = "none"
    # A scribble ControlNet (e.g. xinsir/controlnet-scribble-sdxl-1.0): when set, a sketch steers
    # generation through it (sketchWeight → conditioning scale) instead of img2img.
    SDXL_CONTROLNET_MODEL: str | None = None
    # None disables references on the sdxl provider (requests with refs get a 422).
    IP_ADAPTER_MODEL: str | None = "h94/IP-Adapter"
    # The IP-Adapter weights' folder in IP_ADAPTER_MODEL.
    IP_ADAPTER_SUBFOLDER: str = "sdxl_models"
    # The IP-Adapter weights' file name.
    IP_ADAPTER_WEIGHT_NAME: str = "ip-adapter_sdxl.safetensors"
    # The CLIP image encoder's folder in IP_ADAPTER_MODEL.
    IP_ADAPTER_IMAGE_ENCODER_FOLDER: str = "image_encoder"
    # Block-wise IP-Adapter scales per role (InstantStyle): a number applies to every block,
    # a dict like {"up": {"block_0": [0.0, 1.0, 0.0]}} to the named blocks only (others 0).
    IP_ADAPTER_STYLE_BLOCKS: float | dict[str, Any] = {"up": {"block_0": [0.0, 1.0, 0.0]}}
    # Block-wise scales for `subject` references, as IP_ADAPTER_STYLE_BLOCKS.
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
    # The folder of IP_ADAPTER_MODEL that holds the face adapter's weights.
    IP_ADAPTER_FACE_SUBFOLDER: str = "sdxl_models"
    # The face adapter's block scales (a number: every block), times each face ref's weight.
    IP_ADAPTER_FACE_BLOCKS: float | dict[str, Any] = 1.0
    # The face crop (no face detector ships offline): a square of this share of the shorter side,
    # centred horizontally and a little above centre, where portraits put the face.
    IP_ADAPTER_FACE_CROP: float = Field(default=0.7, gt=0.0, le=1.0)
    # Imagen and Gemini through google-genai in Vertex AI mode; credentials come from the
    # standard Google environment (GOOGLE_APPLICATION_CREDENTIALS / gcloud ADC).
    GOOGLE_CLOUD_PROJECT: str | None = None
    # The Vertex AI region.
    GOOGLE_CLOUD_LOCATION: str = "us-central1"
    # Imagen's text-to-image model.
    IMAGEN_MODEL: str = "imagen-3.0-generate-002"
    # Reference-guided (subject/style) generation needs Imagen's capability model.
    IMAGEN_EDIT_MODEL: str = "imagen-3.0-capability-001"
    # Vertex only honours `seed` without the SynthID watermark; with it on, seeds are not sent.
    IMAGEN_ADD_WATERMARK: bool = True
    # Gemini's image model (generation and edits).
    GEMINI_IMAGE_MODEL: str = "gemini-2.5-flash-image"
    # Seconds one Imagen or Gemini call may take.
    GOOGLE_TIMEOUT_S: float = Field(default=120.0, gt=0, le=600)
    # A request waits at most this long for a model to load (it goes on loading in the
    # background); a failed or unfinished load is the answer (503 + Retry-After) for
    # MODEL_RETRY_S before it is tried again. Weights not on disk are fetched only when the
    # Hub can be reached (HF_HUB_OFFLINE unset, a connection within 2 s).
    MODEL_LOAD_TIMEOUT_S: float = Field(default=30.0, gt=0, le=3600)
    MODEL_RETRY_S: float = Field(default=300.0, ge=0, le=86400)
    # Image → text (POST /images/describe): a transformers image-to-text model id or folder.
    DESCRIBE_MODEL: str = "Salesforce/blip-image-captioning-base"
    # Longest caption, in tokens.
    DESCRIBE_MAX_TOKENS: int = Field(default=30, ge=1, le=256)
    # Where this project's docs are published (e.g. the repository's tree URL or the docs
    # site): /info's `providers[].docs` and the client's "how to fix it" links start with it.
    # Empty: they stay paths in the repository (docs/operations.md#…), shown as text.
    DOCS_URL: str = ""
    # Imports caption their untagged pictures (AUTO_CAPTION_SOURCE; caption + tags, stored
    # with `caption_generated: true` until a person edits them, PATCH /images/{id}). `auto`: on
    # when its model is already on disk (an import never downloads it), off with a note in
    # the import's result otherwise; `on`: always (a model that cannot load is a note, never a
    # failed import); `off`: never.
    AUTO_CAPTION: Literal["auto", "on", "off"] = "auto"
    # `describe`: DESCRIBE_MODEL's caption, tags from its words. `story`: the story provider
    # (STORY_PROVIDER/STORY_MODEL): its title and first sentence, its subjects as tags.
    AUTO_CAPTION_SOURCE: Literal["describe", "story"] = "describe"
    # The most tags an automatic caption adds to a picture.
    AUTO_CAPTION_MAX_TAGS: int = Field(default=8, ge=0, le=32)

    # --- stories (app/stories) ---------------------------------------------------------------
    # Image → story: `transformers` (a local vision-language model, STORY_MODEL) or `gemini`
    # (GEMINI_STORY_MODEL through the google-genai client, Vertex AI settings above).
    STORY_PROVIDER: Literal["transformers", "gemini"] = "transformers"
    # Any AutoModelForImageTextToText model with a chat template, id or folder. Unset: what fits
    # the device — llava-hf/llava-1.5-7b-hf (the seed's) on CUDA, SmolVLM-256M-Instruct on CPU.
    STORY_MODEL: str | None = None
    # The longest story the model may write, in tokens (bounds the time a story job takes).
    STORY_MAX_TOKENS: int = Field(default=400, ge=1, le=4096)
    # Load STORY_MODEL in 8-bit (bitsandbytes; CUDA only, refused with a message elsewhere).
    STORY_LOAD_IN_8BIT: bool = False
    # The Gemini model that writes stories when STORY_PROVIDER=gemini.
    GEMINI_STORY_MODEL: str = "gemini-2.5-flash"
    # A local model unused this long is unloaded (weights freed, CUDA memory returned) and loads
    # again on its next use: the story VLM, SDXL and the describe captioner, never while in use;
    # so one GPU can host them in turn. 0 keeps them loaded.
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
    # Jobs one process runs at once.
    JOB_CONCURRENCY: int = Field(default=1, ge=1, le=64)
    # Queued + running jobs above which a new submission gets 429.
    JOB_QUEUE_LIMIT: int = Field(default=64, ge=1, le=100_000)
    # Tries for transient failures (ProviderError marked retryable), with exponential backoff.
    JOB_MAX_TRIES: int = Field(default=3, ge=1, le=20)
    # First retry delay; it doubles each try.
    JOB_RETRY_BACKOFF_S: float = Field(default=2.0, ge=0, le=600)
    # How long finished job records are kept.
    JOB_TTL_S: int = Field(default=7 * 24 * 3600, ge=60)
    # How long an Idempotency-Key is remembered (at most JOB_TTL_S): a retry within it gets
    # the first job, another request with it a 422; past it the key is free again.
    IDEMPOTENCY_TTL_S: float = Field(default=24 * 3600, gt=0)
    # One attempt of a job is stopped (failed, code `timeout`) after this long.
    JOB_TIMEOUT_S: int = Field(default=3600, ge=1)
    # The Redis queue (arq) the API and the workers share.
    JOB_QUEUE_NAME: str = "clippy:jobs"
    # On shutdown (API lifespan end, worker SIGTERM), running jobs get this long to finish
    # before they are cancelled and marked interrupted.
    JOB_DRAIN_S: float = Field(default=30.0, ge=0, le=3600)

    # --- imports (app/library/imports/) ------------------------------------------------------
    # Server-side folders `POST /libraries/{library}/imports {"folder": ...}` may read.
    IMPORT_ROOTS: list[Path] = []
    # Most URLs one import request lists.
    IMPORT_MAX_URLS: int = Field(default=500, ge=1, le=100_000)
    # Most members one ZIP may hold.
    ZIP_MAX_ENTRIES: int = Field(default=10_000, ge=1)
    # What one import request may unpack from its ZIPs, all together, and also the bound on an
    # import request's body. 512 MiB: the disk a small server can spare per request; memory
    # stays O(1) per ZIP (members stream to disk). Cost model in docs/operations.md.
    ZIP_MAX_TOTAL_BYTES: int = Field(default=512 * 1024**2, ge=1024)
    # Largest uncompressed/compressed ratio of a ZIP member (zip bombs).
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
    # Copies of each shard (see QDRANT_SHARDS).
    QDRANT_REPLICAS: int | None = Field(default=None, ge=1, le=64)
    # Copies a write must reach (see QDRANT_SHARDS).
    QDRANT_WRITE_CONSISTENCY: int | None = Field(default=None, ge=1, le=64)
    # text for people, json (one object per line) for log shippers.
    LOG_FORMAT: Literal["text", "json"] = "text"
    # The level of every logger.
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Prometheus metrics at GET /metrics.
    METRICS_ENABLED: bool = True

    # --- library (app/library) -------------------------------------------------------------
    # Near duplicates: image-vector cosine at or above this (GET /images/duplicates, find_duplicates).
    DUPLICATE_THRESHOLD: float = Field(default=0.95, ge=0, le=1)
    # Near-duplicate scans (POST /images/duplicates/scans, a job): queries asked of the engine
    # at once where it has no distance-matrix API (qdrant-edge; bench/README.md measures it).
    DUPLICATE_SCAN_BATCH: int = Field(default=16, ge=1, le=4096)
    # With random image weights (PRETRAINED=random) image cosines say nothing about what a
    # picture shows, so near scans are refused unless this is set (tests, benchmarks).
    NEAR_DUPLICATES_WITH_RANDOM_WEIGHTS: bool = False
    # Deleted items wait this long in the trash (GET /trash, POST /images/{id}/restore) before
    # their point and owned file are purged; 0: deletes are final at once.
    TRASH_TTL_S: float = Field(default=7 * 24 * 3600, ge=0, le=365 * 24 * 3600)
    # The trash's records (one JSON file per item). None: QDRANT_PATH/<COLLECTION>.trash.
    TRASH_ROOT: Path | None = None
    # POST /images/deletions of more items than this needs `confirm` set to their count.
    BULK_DELETE_CONFIRM_ABOVE: int = Field(default=3, ge=0, le=1000)
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
