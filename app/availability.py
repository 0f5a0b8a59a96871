"""What this installation can run, found without downloading anything.

One check for every model and credential Clippy uses, shared by `GET /info` (its
`providers`), `clippy doctor` and `clippy models pull` (what to fetch)::

    report = check_availability(settings)          # cheap: the local cache, env, one socket
    report.piece("describe").available             # False → /images/describe refuses

Each `Piece` says whether it is usable, why not in one line, the setting to change, and what
its absence disables (views, providers). Weights count as available when they are on disk,
or when they are not but the hub answers now (the first use downloads them: slow, but it
works); `present` tells the two apart. Nothing here imports diffusers or transformers; torch only
when STORY_MODEL is unset and DEVICE=auto (the default story model depends on the device).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.config import Settings

PieceKind = Literal["weights", "credentials"]

# README sections a person is sent to (the client links them, doctor prints them).
DOCS = "docs/operations.md"
ANCHOR_WEIGHTS = "#model-weights-clippy-models-pull"
ANCHOR_GOOGLE = "#google-imagen-and-gemini"


@dataclass(frozen=True)
class HubFiles:
    """What `clippy models pull` fetches for a piece: files of one Hugging Face repo.

    `loader` names how: `snapshot` (the repo, filtered by the patterns), `diffusers` (what a
    diffusers pipeline's from_pretrained reads, variant included), `file` (the first of
    `files` the repo has, as open_clip looks for them)."""

    repo: str
    loader: Literal["snapshot", "diffusers", "file"] = "snapshot"
    allow: tuple[str, ...] | None = None
    files: tuple[str, ...] = ()
    variant: str | None = None


@dataclass(frozen=True)
class Piece:
    name: str
    title: str
    kind: PieceKind
    available: bool
    # On disk (weights) or configured (credentials): no network needed at first use.
    present: bool
    reason: str
    setting: str
    disables: tuple[str, ...]
    docs: str
    fetch: tuple[HubFiles, ...] = ()
    # Not used with these settings (TEXT_MODEL=clip, IP_ADAPTER_MODEL unset, …): never a problem.
    needed: bool = True

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["disables"] = list(self.disables)
        data["fetch"] = [asdict(f) for f in self.fetch]
        return data


@dataclass(frozen=True)
class Availability:
    pieces: tuple[Piece, ...]
    hub: str
    hub_problem: str | None = None
    cache_dir: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # The piece stories need: the local VLM (`story`) or, with STORY_PROVIDER=gemini, `google`.
    story_piece: str = "story"

    def piece(self, name: str) -> Piece:
        for p in self.pieces:
            if p.name == name:
                return p
        raise KeyError(f"No availability piece {name!r}. Known: {[p.name for p in self.pieces]}")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.pieces]

    def providers(self, docs_url: str = "") -> dict[str, ProviderAvailability]:
        """Per generation/describe provider: usable or not, with the piece that decides it
        (`docs_url`, DOCS_URL: where the docs paths are published)."""
        out: dict[str, ProviderAvailability] = {}
        for provider, parts in {**PROVIDER_PIECES, "story": (self.story_piece,)}.items():
            needed = [self.piece(p) for p in parts if self.piece(p).needed]
            if not needed:  # e.g. no STORY_MODEL: no such provider here to report
                continue
            missing = [p for p in needed if not p.available]
            if missing:
                first = missing[0]
                out[provider] = ProviderAvailability(
                    False, first.reason, first.setting, docs_link(first.docs, docs_url)
                )
            else:
                notes = [p.reason for p in needed if not p.present]
                out[provider] = ProviderAvailability(
                    True, "; ".join(notes) or "ready", needed[0].setting, needed[0].docs
                )
        return out


def docs_link(path: str, docs_url: str) -> str:
    """`path` (docs/operations.md#…) under DOCS_URL, or the path itself when DOCS_URL is empty."""
    return f"{docs_url.rstrip('/')}/{path}" if docs_url else path


@dataclass(frozen=True)
class ProviderAvailability:
    available: bool
    reason: str
    setting: str
    docs: str


# Which pieces each provider needs (the first missing one is the reason it is unavailable).
PROVIDER_PIECES: dict[str, tuple[str, ...]] = {
    "sdxl": ("sdxl", "ip_adapter", "controlnet"),
    "imagen": ("google",),
    "gemini": ("google",),
    "describe": ("describe",),
    "story": ("story",),
}


# --- the cheap probes ------------------------------------------------------------------


def _cache(settings: Settings) -> str | None:
    return str(settings.MODEL_CACHE_DIR) if settings.MODEL_CACHE_DIR else None


def _hub_files_cached(repo: str, files: tuple[str, ...], cache_dir: str | None) -> str | None:
    """The first of `files` in the local cache of `repo`, or None (no network)."""
    from huggingface_hub import try_to_load_from_cache

    for filename in files:
        found = try_to_load_from_cache(repo, filename, cache_dir=cache_dir)
        if isinstance(found, str):
            return found
    return None


def _repo_cached(repo: str, cache_dir: str | None) -> bool:
    """A local folder, or a snapshot of `repo` in the cache (no network)."""
    from app.embedding.availability import hub_model_local

    return hub_model_local(repo, Path(cache_dir) if cache_dir else None)


def _weights(
    *,
    name: str,
    title: str,
    setting: str,
    disables: tuple[str, ...],
    present: bool,
    what: str,
    fetch: tuple[HubFiles, ...],
    hub_problem: Callable[[], str | None],
    needed: bool = True,
) -> Piece:
    if not needed:
        return Piece(
            name,
            title,
            "weights",
            True,
            True,
            f"not used ({what})",
            setting,
            disables,
            DOCS + ANCHOR_WEIGHTS,
            fetch,
            False,
        )
    if present:
        return Piece(
            name, title, "weights", True, True, f"{what}: on disk", setting, disables, DOCS + ANCHOR_WEIGHTS, fetch
        )
    if not fetch:
        return Piece(
            name,
            title,
            "weights",
            False,
            False,
            f"{what}: not found; change {setting}",
            setting,
            disables,
            DOCS + ANCHOR_WEIGHTS,
        )
    why = hub_problem()
    if why is None:
        reason = f"{what}: not on disk, downloaded on first use (run `clippy models pull {name}` first)"
        return Piece(name, title, "weights", True, False, reason, setting, disables, DOCS + ANCHOR_WEIGHTS, fetch)
    # The probe's own words (errno and all) are for doctor; the reason stays one short line.
    reason = f"{what}: not on disk and {why.split(' (')[0]}; run `clippy models pull {name}` or change {setting}"
    return Piece(name, title, "weights", False, False, reason, setting, disables, DOCS + ANCHOR_WEIGHTS, fetch)


def _openclip(settings: Settings, hub_problem: Callable[[], str | None]) -> Piece:
    import open_clip

    model, tag = settings.MODEL_NAME, settings.PRETRAINED
    what = f"OpenCLIP {model} {tag}"
    disables = ("views: image, edge (random weights: meaningless)", "text view when TEXT_MODEL=clip")
    if tag.lower() == "random":
        return Piece(
            "openclip", "OpenCLIP weights", "weights", True, True,
            f"PRETRAINED=random: {model} has random weights (search by picture or sketch is meaningless)",
            "PRETRAINED", disables, DOCS + ANCHOR_WEIGHTS,
        )  # fmt: skip
    if Path(tag).expanduser().is_file():
        return _weights(
            name="openclip", title="OpenCLIP weights", setting="PRETRAINED", disables=disables, present=True,
            what=what, fetch=(), hub_problem=hub_problem,
        )  # fmt: skip
    if model not in open_clip.list_models() or tag not in open_clip.list_pretrained_tags_by_model(model):
        return Piece(
            "openclip", "OpenCLIP weights", "weights", False, False,
            f"{tag!r} is neither a file nor a known pretrained tag for MODEL_NAME={model!r}",
            "PRETRAINED", disables, DOCS + ANCHOR_WEIGHTS,
        )  # fmt: skip
    fetch = openclip_files(model, tag)
    present = bool(fetch) and _hub_files_cached(fetch[0].repo, fetch[0].files, _cache(settings)) is not None
    return _weights(
        name="openclip", title="OpenCLIP weights", setting="PRETRAINED (MODEL_NAME)", disables=disables,
        present=present, what=what, fetch=fetch, hub_problem=hub_problem,
    )  # fmt: skip


def openclip_files(model: str, tag: str) -> tuple[HubFiles, ...]:
    """The hub file open_clip reads for a known tag (its own order: safetensors first)."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, tag)
    hub = str(cfg.get("hf_hub", ""))
    if not hub:
        return ()
    # open_clip splits it the same way: "org/repo/" is a repo, "org/repo/file" one file of it.
    repo, filename = posixpath.split(hub)
    files = (filename,) if filename else ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
    return (HubFiles(repo, "file", files=files),)


def text_repo(name: str) -> str:
    """The hub repo sentence-transformers loads for TEXT_MODEL (a bare name is theirs)."""
    return name if "/" in name else f"sentence-transformers/{name}"


def _text(settings: Settings, hub_problem: Callable[[], str | None]) -> Piece:
    from app.embedding.sentence import resolve_text_model

    name = settings.TEXT_MODEL
    disables = ("view: text (prompts against tags and captions)",)
    if name.lower() == "clip":
        return _weights(
            name="text", title="Text-view model", setting="TEXT_MODEL", disables=disables, present=True,
            what="TEXT_MODEL=clip uses the OpenCLIP text tower", fetch=(), hub_problem=hub_problem, needed=False,
        )  # fmt: skip
    local = Path(resolve_text_model(name)).is_dir()
    fetch = (HubFiles(text_repo(name), allow=_TRANSFORMERS_FILES),)
    present = local or _repo_cached(text_repo(name), _cache(settings))
    return _weights(
        name="text", title="Text-view model", setting="TEXT_MODEL", disables=disables, present=present,
        what=f"TEXT_MODEL={name}", fetch=() if local else fetch, hub_problem=hub_problem,
    )  # fmt: skip


# Weights and configs a transformers / sentence-transformers model loads (no TF, Flax, ONNX,
# nor .bin twins of the safetensors); huggingface_hub's patterns match across folders.
_TRANSFORMERS_FILES = (
    "*.json",
    "*.txt",
    "*.model",
    "*.safetensors",
)


def _sdxl(settings: Settings, hub_problem: Callable[[], str | None]) -> list[Piece]:
    cache = _cache(settings)
    s = settings
    sdxl = _weights(
        name="sdxl", title="SDXL", setting="SDXL_MODEL", disables=("provider: sdxl",),
        present=_repo_cached(s.SDXL_MODEL, cache), what=f"SDXL_MODEL={s.SDXL_MODEL}",
        fetch=() if Path(s.SDXL_MODEL).expanduser().is_dir() else (
            HubFiles(s.SDXL_MODEL, "diffusers", variant=s.SDXL_VARIANT),
        ),
        hub_problem=hub_problem,
    )  # fmt: skip
    ip = s.IP_ADAPTER_MODEL
    sub = s.IP_ADAPTER_SUBFOLDER.strip("/")
    encoder = s.IP_ADAPTER_IMAGE_ENCODER_FOLDER.strip("/")
    # diffusers reads the encoder under the subfolder when the folder is a bare name.
    encoder_path = encoder if "/" in encoder else posixpath.join(sub, encoder) if sub else encoder
    weight = posixpath.join(sub, s.IP_ADAPTER_WEIGHT_NAME) if sub else s.IP_ADAPTER_WEIGHT_NAME
    ip_piece = _weights(
        name="ip_adapter", title="IP-Adapter (SDXL references)", setting="IP_ADAPTER_MODEL",
        disables=("provider: sdxl (it loads with SDXL; unset IP_ADAPTER_MODEL to generate without refs)",),
        present=ip is not None and _repo_cached(ip, cache), what=f"IP_ADAPTER_MODEL={ip}",
        fetch=() if not ip or Path(ip).expanduser().is_dir() else (
            HubFiles(ip, allow=(weight, f"{encoder_path}/*")),
        ),
        hub_problem=hub_problem, needed=bool(ip),
    )  # fmt: skip
    cn = s.SDXL_CONTROLNET_MODEL
    cn_piece = _weights(
        name="controlnet", title="SDXL ControlNet (sketch)", setting="SDXL_CONTROLNET_MODEL",
        disables=("provider: sdxl (it loads with SDXL)",),
        present=cn is not None and _repo_cached(cn, cache), what=f"SDXL_CONTROLNET_MODEL={cn}",
        fetch=() if not cn or Path(cn).expanduser().is_dir() else (HubFiles(cn, allow=_TRANSFORMERS_FILES),),
        hub_problem=hub_problem, needed=bool(cn),
    )  # fmt: skip
    return [sdxl, ip_piece, cn_piece]


def _describe(settings: Settings, hub_problem: Callable[[], str | None]) -> Piece:
    m = settings.DESCRIBE_MODEL
    return _weights(
        name="describe", title="Describe model (captions)", setting="DESCRIBE_MODEL",
        disables=("route: POST /images/describe", "client: Describe"),
        present=_repo_cached(m, _cache(settings)), what=f"DESCRIBE_MODEL={m}",
        fetch=() if Path(m).expanduser().is_dir() else (HubFiles(m, allow=_TRANSFORMERS_FILES),),
        hub_problem=hub_problem,
    )  # fmt: skip


def _story(settings: Settings, hub_problem: Callable[[], str | None]) -> Piece:
    if settings.STORY_PROVIDER != "transformers":
        m: str | None = None
    else:
        # Unset STORY_MODEL means the model that fits the device (app/stories/vlm.py).
        from app.stories.vlm import default_story_model

        m = default_story_model(settings)
    return _weights(
        name="story", title="Story VLM", setting="STORY_MODEL",
        disables=("route: POST /stories (local VLM)", "route: POST /generate-story", "client: Story"),
        present=bool(m) and _repo_cached(str(m), _cache(settings)),
        what=f"STORY_MODEL={m}" if m else f"STORY_PROVIDER={settings.STORY_PROVIDER}",
        fetch=() if not m or Path(str(m)).expanduser().is_dir() else (HubFiles(str(m), allow=_TRANSFORMERS_FILES),),
        hub_problem=hub_problem, needed=bool(m),
    )  # fmt: skip


def google_credentials(env: dict[str, str] | None = None) -> str | None:
    """Where Google's application default credentials would come from, or None (no call made)."""
    env = dict(os.environ) if env is None else env
    path = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path:
        return f"GOOGLE_APPLICATION_CREDENTIALS={path}" if Path(path).expanduser().is_file() else None
    config = Path(env["CLOUDSDK_CONFIG"]) if env.get("CLOUDSDK_CONFIG") else Path.home() / ".config" / "gcloud"
    adc = config / "application_default_credentials.json"
    if adc.is_file():
        return str(adc)
    # On Google Cloud the metadata server answers; it is declared by these, never probed.
    for name in ("K_SERVICE", "GCE_METADATA_HOST", "KUBERNETES_SERVICE_HOST"):
        if env.get(name):
            return f"the metadata server ({name} is set)"
    return None


def _google(settings: Settings, env: dict[str, str] | None) -> Piece:
    disables = ("provider: imagen", "provider: gemini")
    docs = DOCS + ANCHOR_GOOGLE
    if not settings.GOOGLE_CLOUD_PROJECT:
        return Piece(
            "google", "Google Vertex AI (Imagen, Gemini)", "credentials", False, False,
            "GOOGLE_CLOUD_PROJECT is not set (and Google credentials are needed)", "GOOGLE_CLOUD_PROJECT",
            disables, docs,
        )  # fmt: skip
    creds = google_credentials(env)
    if creds is None:
        return Piece(
            "google", "Google Vertex AI (Imagen, Gemini)", "credentials", False, False,
            "no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS to a key file or run "
            "`gcloud auth application-default login`",
            "GOOGLE_APPLICATION_CREDENTIALS", disables, docs,
        )  # fmt: skip
    return Piece(
        "google", "Google Vertex AI (Imagen, Gemini)", "credentials", True, True,
        f"project {settings.GOOGLE_CLOUD_PROJECT} in {settings.GOOGLE_CLOUD_LOCATION}, credentials from {creds}",
        "GOOGLE_CLOUD_PROJECT", disables, docs,
    )  # fmt: skip


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return str(constants.ENDPOINT)


def check_availability(
    settings: Settings,
    *,
    hub_problem: Callable[[], str | None] | None = None,
    env: dict[str, str] | None = None,
) -> Availability:
    """Every piece, from the local caches and the environment. The hub is asked once (a
    socket connect, ≤ 2 s) and only when some weights are not on disk; `hub_problem` replaces
    that probe (tests, and `doctor --offline`)."""
    from app.embedding.availability import hub_unreachable

    asked: list[str | None] = []

    def probe() -> str | None:
        if not asked:
            asked.append((hub_problem or hub_unreachable)())
        return asked[0]

    pieces = [
        _openclip(settings, probe),
        _text(settings, probe),
        *_sdxl(settings, probe),
        _describe(settings, probe),
        _story(settings, probe),
        _google(settings, env),
    ]
    return Availability(
        tuple(pieces),
        hub=hub_endpoint(),
        hub_problem=asked[0] if asked else None,
        cache_dir=_cache(settings) or _default_hub_cache(),
        story_piece="story" if settings.STORY_PROVIDER == "transformers" else "google",
    )


def _default_hub_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)
