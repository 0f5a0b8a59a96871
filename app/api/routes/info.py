from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import ScopeDep, ServicesDep
from app.storage.info import collection_info

router = APIRouter(tags=["info"])


@router.get("/info", summary="Collection, model and vector sizes")
async def info(services: ServicesDep, scope: ScopeDep) -> dict[str, Any]:
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
    data["usable"] = services.space.usable
    if services.space.problem is not None:
        data["problem"] = services.space.problem.message
    return data


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Model and store are loaded")
async def readyz(services: ServicesDep) -> JSONResponse:
    ok = services.ready and services.space.usable
    return JSONResponse({"status": "ready" if ok else "not ready"}, status_code=200 if ok else 503)
