from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from app.api.deps import ScopeDep, ServicesDep
from app.models import CamelModel
from app.storage.info import collection_info

router = APIRouter(tags=["info"])


class RunningModel(CamelModel):
    """The embedding space this process runs."""

    model: str
    pretrained: str
    random_weights: bool
    text_model: str = Field(description="`clip` when the text view uses the image model's text tower.")
    device: str


class KindDefaults(CamelModel):
    weights: dict[str, float] = Field(description="`wImg`, `wEdge`, `wShape`, `wTxt`, `wTags` when not sent.")
    rerank: bool = Field(description="`rerank` when not sent: exact re-rank (true) or Qdrant-side fusion.")


class SearchDefaults(CamelModel):
    """What `POST /search/hybrid` uses for what a request does not send, per query kind."""

    kinds: dict[str, KindDefaults] = Field(
        description="Per query kind (the inputs sent): sketch, text, sketch+text, image, examples (ids alone). "
        "Other mixes take, view by view, the largest default of their parts."
    )
    source: str = Field(description="The evaluation run the table came from.")
    without_signal: dict[str, str] = Field(
        description="Views driven by a random-weight model → why: their default is 0."
    )


class ProviderStatus(CamelModel):
    """Whether a generation or describe provider can run here, checked at start without downloading."""

    available: bool
    reason: str = Field(description="One line: what is there or what is missing.")
    setting: str = Field(description="The setting to change when it is not available.")
    docs: str = Field(
        description="The documentation section that says how: a URL under DOCS_URL, or a path in the repository "
        "(docs/operations.md#…) when DOCS_URL is not set."
    )


class AutoIngestProgress(CamelModel):
    """AUTO_INGEST's background scan of an IMAGES_ROOT without a manifest.jsonl."""

    status: Literal["scanning", "done", "unchanged", "stopped", "failed"]
    found: int = Field(description="Images found in the folder.")
    done: int = Field(description="Images stored or skipped as already stored so far.")
    failed: int = Field(description="Images that could not be read (logged).")
    error: str | None = Field(default=None, description="Why the scan failed, when it did.")


class InfoResponse(CamelModel):
    """What `GET /info` answers. The collection's own facts are left out while it does not exist."""

    collection: str
    exists: bool
    points: int = Field(description="Images the calling key may read.")
    vectors: dict[str, int] | None = Field(default=None, description="Named dense vector → dimension.")
    sparse: list[str] | None = None
    model: str | None = Field(default=None, description="The embedding space the collection was built with.")
    pretrained: str | None = None
    random_weights: bool | None = None
    text_model: str | None = None
    text_template: str | None = None
    edge_version: str | None = None
    shape_version: str | None = None
    running: RunningModel
    defaults: SearchDefaults
    usable: bool = Field(description="False when the collection holds another embedding space (see `problem`).")
    problem: str | None = Field(default=None, description="Why searches are refused, when they are.")
    generation_provider: str | None = Field(
        default=None, description="The provider a generate request without `provider` uses (GENERATION_PROVIDER)."
    )
    providers: dict[str, ProviderStatus] = Field(
        default_factory=dict,
        description="Per provider (`sdxl`, `imagen`, `gemini`, `describe`, `story`): "
        "available or not, why, and the setting to change (the same check as `clippy doctor`).",
    )
    auto_ingest: AutoIngestProgress | None = Field(
        default=None, description="Present while (and after) this process scans a bare IMAGES_ROOT at start."
    )


class Health(CamelModel):
    status: Literal["ok"]


class Readiness(CamelModel):
    status: Literal["ready", "not ready"]


@router.get(
    "/info",
    name="get_info",
    response_model=InfoResponse,
    # Only the facts known are sent (a missing collection has no model): the JSON as before.
    response_model_exclude_unset=True,
    summary="Collection, model and vector sizes",
)
async def info(services: ServicesDep, scope: ScopeDep) -> InfoResponse:
    # An owner key counts the images it may read, not every tenant's.
    data = await run_in_threadpool(collection_info, services.store, scope.read_filter())
    enc = services.encoders
    data["running"] = {
        "model": enc.clip.name,
        "pretrained": enc.clip.pretrained,
        "randomWeights": enc.clip.random_weights,
        "textModel": "clip" if enc.text is enc.clip else enc.text.name,
        "device": str(enc.clip.device),
    }
    defaults = services.searcher.defaults
    data["defaults"] = {
        "kinds": defaults.describe(),
        "source": defaults.table.source,
        "withoutSignal": defaults.no_signal,
    }
    report = await run_in_threadpool(services.availability)
    data["providers"] = {
        name: ProviderStatus(available=p.available, reason=p.reason, setting=p.setting, docs=p.docs)
        for name, p in report.providers(services.settings.DOCS_URL).items()
    }
    data["generationProvider"] = services.settings.GENERATION_PROVIDER
    data["usable"] = services.space.usable
    if services.space.problem is not None:
        data["problem"] = services.space.problem.message
    if (scan := services.folder_scan.progress) is not None:
        data["autoIngest"] = AutoIngestProgress.model_validate(scan, from_attributes=True)
    return InfoResponse.model_validate(data)


@router.get("/healthz", name="get_health", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    name="get_readiness",
    response_model=Readiness,
    summary="Model and store are loaded",
    # A probe's answer, not an error: the same small body as 200 (orchestrators read the status).
    responses={503: {"model": Readiness, "description": "Not ready (yet): the model, the store or the space."}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    ok = services.ready and services.space.usable
    return JSONResponse({"status": "ready" if ok else "not ready"}, status_code=200 if ok else 503)
