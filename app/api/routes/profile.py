"""POST /feedback and GET /profile: personalisation per key owner (app/library/profiles.py).

Feedback names an image the key may read; its tags and library are recorded with the
action, so the profile follows the library's images and forgets them with it."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from app.api.deps import ProfilesDep, ScopeDep, ServicesDep
from app.api.openapi import problems
from app.library.profiles import ACTION_WEIGHTS
from app.models import CamelModel
from app.storage.payload import Payload

router = APIRouter(tags=["personalisation"])


class Feedback(CamelModel):
    image_id: UUID = Field(description="A library image the key may read (a search hit).")
    action: Literal["click", "save", "dismiss"]


class TagAffinity(CamelModel):
    tag: str
    affinity: float = Field(description="Decayed sum of the feedback weights on images with this tag.")


class Profile(CamelModel):
    owner: str | None = Field(description="The key's owner; null for operator keys (one shared profile).")
    events: int
    half_life_days: float
    max_boost: float = Field(description="The most a hit's score moves with `personalize: true`.")
    action_weights: dict[str, float]
    tags: list[TagAffinity] = Field(description="Strongest first (liked positive, dismissed negative).")


def _profile(services: ServicesDep, profiles: ProfilesDep, owner: str | None) -> Profile:
    affinities = profiles.affinities(owner)
    ranked = sorted(affinities.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    settings = services.settings
    return Profile(
        owner=owner,
        events=profiles.events(owner),
        half_life_days=settings.PROFILE_HALF_LIFE_DAYS,
        max_boost=settings.PROFILE_MAX_BOOST,
        action_weights=ACTION_WEIGHTS,
        tags=[TagAffinity(tag=t, affinity=a) for t, a in ranked],
    )


@router.post(
    "/feedback",
    name="send_feedback",
    response_model=Profile,
    response_model_by_alias=True,
    responses=problems(404),
    summary="Record a click, save or dismiss on an image: it shapes this key owner's profile",
)
async def feedback(body: Feedback, services: ServicesDep, profiles: ProfilesDep, scope: ScopeDep) -> Profile:
    image_id = str(body.image_id)

    def record() -> Profile:
        # image_path answers 404 for an unknown image or one the key may not read.
        services.libraries.image_path(image_id, scope)
        (point,) = services.store.retrieve([image_id])
        payload = Payload.read(point.payload)
        owner = scope.principal.owner
        profiles.record(owner, image_id, payload.library, body.action, list(payload.tags))
        return _profile(services, profiles, owner)

    return await run_in_threadpool(record)


@router.get(
    "/profile",
    name="get_profile",
    response_model=Profile,
    response_model_by_alias=True,
    summary="This key owner's tag affinities, from its feedback",
)
async def profile(services: ServicesDep, profiles: ProfilesDep, scope: ScopeDep) -> Profile:
    return await run_in_threadpool(_profile, services, profiles, scope.principal.owner)
