"""Story → storyboard, each frame grounded on what came before it.

Before frame k the job retrieves (with `retrieval`, TOP_K_RETRIEVAL at most): this
storyboard's earlier frames first, then the owner's earlier generations in the library, then
the rest of the library, each ranked by the cosine between the frame prompt's CLIP text
vector and the candidate's `image` vector. `plan_refs` (pure) turns them into references:

* for each recurring subject the beat names, the earlier frame that introduced it → `subject`;
* the storyboard's first frame → `style` (the look every frame keeps);
* the rest of the top-K, in tier order → `style`, a hint of look;

weights 0.3 + 0.6 × similarity (clamped to 0..1). Every frame records its refs with the
reason (attribution), and joins the library with its storyboard id, frame index, beat and
story id, so later storyboards retrieve it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import numpy as np
from PIL import Image

from app.config import Settings
from app.embedding import Encoders
from app.errors import InvalidInputError, NotFoundError
from app.generation.base import GenerationSpec, Hooks, Ref
from app.generation.factory import ProviderRegistry
from app.generation.files import GENERATED_URL, GeneratedFiles
from app.generation.job import prompt_tags
from app.generation.library import NO_LIBRARY, AddToLibrary, LibraryUnavailable, ResolveLibraryImage
from app.generation.models import GenerateParams, GenerateRequest, RefParam
from app.jobs.base import IdempotencyKey, Job, JobContext, JobHandlers, JobQueue
from app.search.decompose import Decomposer
from app.storage import VectorStore
from app.storage.types import Filter, HasId, MatchAny, ViewQuery
from app.stories.beats import Beat, split_beats
from app.stories.index import StoryIndex
from app.stories.models import Frame, FrameRef, Story, StoryboardProgress, StoryboardRequest, StoryboardResult
from app.stories.parse import parse_story
from app.telemetry import StageSink, no_stages, span

log = logging.getLogger(__name__)

JOB_KIND = "storyboard"
Tier = Literal["storyboard", "generated", "library"]
TIERS: tuple[Tier, ...] = ("storyboard", "generated", "library")


@dataclass(frozen=True)
class Candidate:
    """Something a frame may take as a reference: an earlier frame or a library image."""

    tier: Tier
    similarity: float
    frame: int | None = None
    id: str | None = None
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedRef:
    candidate: Candidate
    role: Literal["style", "subject"]
    weight: float
    reason: str


def similarity_weight(similarity: float) -> float:
    return round(0.3 + 0.6 * min(1.0, max(0.0, similarity)), 4)


def plan_refs(subjects: Sequence[str], candidates: Sequence[Candidate], limit: int) -> list[PlannedRef]:
    """References for one frame from its candidates (earlier frames carry `frame` and the
    subjects they showed). At most `limit`; 0 → none."""
    if limit < 0:
        raise ValueError(f"`limit` must be >= 0, got {limit}")
    frames = sorted((c for c in candidates if c.frame is not None), key=lambda c: c.frame or 0)
    chosen: list[PlannedRef] = []
    taken: set[tuple[Tier, int | None, str | None]] = set()

    def take(c: Candidate, role: Literal["style", "subject"], reason: str) -> None:
        key = (c.tier, c.frame, c.id)
        if len(chosen) < limit and key not in taken:
            taken.add(key)
            chosen.append(PlannedRef(c, role, similarity_weight(c.similarity), reason))

    for subject in subjects:
        introduced = next((c for c in frames if subject in c.subjects), None)
        if introduced is not None:
            take(introduced, "subject", f"frame {introduced.frame} introduced {subject!r}")
    if frames and frames[0].frame == 0:
        take(frames[0], "style", "the storyboard's first frame sets the style")
    ranked = sorted(candidates, key=lambda c: (TIERS.index(c.tier), -c.similarity))
    for c in ranked:
        take(c, "style", f"similar {c.tier} image (cosine {c.similarity:.2f})")
    return chosen


def frame_prompt(beat: Beat, story: Story) -> str:
    """The beat, the recurring subjects it shows, and the story's setting."""
    parts = [beat.text]
    if beat.subjects:
        parts.append("featuring " + ", ".join(beat.subjects))
    if story.setting:
        parts.append("setting: " + story.setting)
    return ". ".join(p.rstrip(". ") for p in parts if p)


@dataclass
class _Made:
    index: int
    image: Image.Image
    vector: np.ndarray
    subjects: tuple[str, ...]
    library_id: str | None


class StoryboardService:
    def __init__(
        self,
        settings: Settings,
        jobs: JobQueue,
        providers: ProviderRegistry,
        encoders: Encoders | None,
        *,
        store: VectorStore | None = None,
        index: StoryIndex | None = None,
        resolve_library_image: ResolveLibraryImage = NO_LIBRARY,
        add_to_library: AddToLibrary = NO_LIBRARY,
        observe: StageSink = no_stages,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.providers = providers
        self.encoders = encoders
        self.store = store
        self.index = index
        self.resolve_library_image = resolve_library_image
        self.add_to_library = add_to_library
        self.files = GeneratedFiles(settings.GENERATED_ROOT, settings.REF_MAX_SIDE)
        self.observe = observe
        self._decomposer: Decomposer | None = None

    def register_handlers(self, handlers: JobHandlers) -> None:
        handlers.register(JOB_KIND, self.run)

    @property
    def can_add_to_library(self) -> bool:
        """Whether frames can join the library where the job runs: a library hook here, and a
        store the worker can open too when jobs run elsewhere (QDRANT_URL)."""
        if isinstance(self.add_to_library, LibraryUnavailable):
            return False
        return not self.jobs.durable or bool(self.settings.QDRANT_URL)

    @property
    def decomposer(self) -> Decomposer:
        if self._decomposer is None:
            self._decomposer = Decomposer(self.settings.RAG_SPACY_MODEL, self.settings.RAG_MAX_SUBQUERIES)
        return self._decomposer

    # --- submit (API side) ---------------------------------------------------------------

    async def submit(
        self,
        request: StoryboardRequest,
        *,
        owner: str | None = None,
        readable: list[str] | None = None,
        may_read: Callable[[dict[str, Any]], bool] | None = None,
        idempotency_key: IdempotencyKey | None = None,
    ) -> Job:
        if idempotency_key is not None and (existing := await self.jobs.find(idempotency_key)):
            return existing
        given = [n for n in ("story", "story_text", "story_id") if getattr(request, n) is not None]
        if len(given) != 1:
            raise InvalidInputError(
                f"Send exactly one of `story`, `storyText` or `storyId`, not {given or 'none'}.", field="story"
            )
        if request.frames > self.settings.STORYBOARD_MAX_FRAMES:
            raise InvalidInputError(
                f"`frames` is {request.frames}; at most STORYBOARD_MAX_FRAMES={self.settings.STORYBOARD_MAX_FRAMES}.",
                field="frames",
                limit=self.settings.STORYBOARD_MAX_FRAMES,
            )
        if request.add_to_library and isinstance(self.add_to_library, LibraryUnavailable):
            raise self.add_to_library.error("`addToLibrary`", "addToLibrary")
        if request.story_id is not None:
            if self.index is None:
                raise NotFoundError(f"no story with id {request.story_id!r}.", id=request.story_id)
            story = await anyio.to_thread.run_sync(self.index.get, request.story_id, may_read)
        elif request.story_text is not None:
            story = parse_story(request.story_text)
        else:
            assert request.story is not None
            story = request.story
        if not story.paragraphs and not story.title:
            raise InvalidInputError("The story has no text to make frames of.", field="story")
        name = request.provider or self.settings.GENERATION_PROVIDER
        provider = self.providers.get(name)
        # Sizes, steps and seeds as /images/generate checks them, for one image per frame.
        provider.check(
            GenerateRequest(
                prompt="x",
                provider=name,  # type: ignore[arg-type]
                width=request.width,
                height=request.height,
                steps=request.steps,
                seed=(request.seed or 0) + request.frames - 1,
            )
        )
        params = {
            "storyboardId": uuid.uuid4().hex,
            "storyId": request.story_id,
            "story": story.model_dump(mode="json", by_alias=True),
            "frames": request.frames,
            "retrieval": request.retrieval,
            "provider": name,
            "seed": request.seed if request.seed is not None else int(np.random.default_rng().integers(0, 2**30)),
            "width": request.width,
            "height": request.height,
            "steps": request.steps,
            "guidance": request.guidance,
            "addToLibrary": request.add_to_library,
            "library": request.library,
            "owner": owner,
            "readable": readable,
        }
        with span("api.submit", kind=JOB_KIND):
            return await self.jobs.submit(JOB_KIND, params, idempotency_key, owner=owner)

    # --- the job (worker side) -----------------------------------------------------------

    def _query_vector(self, prompt: str) -> np.ndarray | None:
        if self.encoders is None:
            return None
        v = np.asarray(self.encoders.image_text.encode_texts([prompt])[0], dtype=np.float32)
        return v / (float(np.linalg.norm(v)) or 1.0)

    def _image_vector(self, image: Image.Image) -> np.ndarray:
        if self.encoders is None:
            return np.zeros(1, dtype=np.float32)
        v = self.encoders.adapt("image", self.encoders.image.encode_images([image]))[0]
        v = np.asarray(v, dtype=np.float32)
        return v / (float(np.linalg.norm(v)) or 1.0)

    def _library_candidates(
        self, query: np.ndarray, limit: int, readable: list[str] | None, own: list[str]
    ) -> list[Candidate]:
        """The owner's generations first, then the rest of the library (its readable part)."""
        if self.store is None or limit <= 0:
            return []
        scope = (MatchAny("library", tuple(readable)),) if readable is not None else ()
        mine = (HasId(tuple(own)),) if own else ()
        generated = MatchAny("tags", ("generated",))
        out: list[Candidate] = []
        for tier, flt in (
            ("generated", Filter(must=(*scope, generated), must_not=mine)),
            ("library", Filter(must=scope, must_not=(generated, *mine))),
        ):
            hits = self.store.search(ViewQuery("image", query.tolist(), limit), flt)
            out += [Candidate(tier, float(h.score), id=h.id) for h in hits]  # type: ignore[arg-type]
        return out

    async def run(self, raw: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        start = time.perf_counter()
        with span("job.storyboard", job_id=ctx.job_id, frames=raw.get("frames")):
            result = await self._run(raw, ctx)
        self.observe(JOB_KIND, "total", time.perf_counter() - start)
        return result

    async def _run(self, raw: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        p = raw
        story = Story.model_validate(p["story"])
        n = int(p["frames"])
        provider = self.providers.get(p["provider"])
        decompose = None if story.subjects else self.decomposer.decompose
        beats = await anyio.to_thread.run_sync(split_beats, story, n, decompose)
        top_k = self.settings.TOP_K_RETRIEVAL if p["retrieval"] else 0
        limit = min(top_k, provider.capabilities.max_refs)
        made: list[_Made] = []
        frames: list[Frame] = []
        timings = {"load": 0.0, "retrieval": 0.0, "inference": 0.0, "library": 0.0}
        model = provider.model_name
        # Loading apart from inference (0 when warm), so each stage's time means one thing.
        start = time.perf_counter()
        await anyio.to_thread.run_sync(provider.load)
        timings["load"] = time.perf_counter() - start
        self.observe(JOB_KIND, "load", timings["load"])
        ctx.report(0, len(beats))
        for beat in beats:
            ctx.check_cancelled()
            prompt = frame_prompt(beat, story)
            start = time.perf_counter()
            planned: list[PlannedRef] = []
            if limit > 0:
                query = await anyio.to_thread.run_sync(self._query_vector, prompt)
                candidates = [
                    Candidate(
                        "storyboard",
                        float(query @ m.vector) if query is not None else 0.0,
                        frame=m.index,
                        subjects=m.subjects,
                    )
                    for m in made
                ]
                if query is not None:
                    own = [m.library_id for m in made if m.library_id]
                    candidates += await anyio.to_thread.run_sync(
                        self._library_candidates, query, top_k, p.get("readable"), own
                    )
                planned = plan_refs(beat.subjects, candidates, limit)
            refs = await anyio.to_thread.run_sync(self._ref_images, planned, made)
            retrieval_s = time.perf_counter() - start
            timings["retrieval"] += retrieval_s
            self.observe(JOB_KIND, "retrieval", retrieval_s)
            seed = int(p["seed"]) + beat.index
            spec = GenerationSpec(
                prompt=prompt,
                negative_prompt=None,
                refs=refs,
                sketch=None,
                sketch_weight=0.0,
                seed=seed,
                width=int(p["width"]),
                height=int(p["height"]),
                n=1,
                steps=p.get("steps"),
                guidance=p.get("guidance"),
            )
            start = time.perf_counter()
            with span("storyboard.frame", frame=beat.index, refs=len(refs), provider=provider.name):
                output = await provider.generate(spec, Hooks(check_cancelled=ctx.check_cancelled))
            inference_s = time.perf_counter() - start
            timings["inference"] += inference_s
            self.observe(JOB_KIND, "inference", inference_s)
            model = output.model
            image = output.images[0]
            start = time.perf_counter()
            frame, made_frame = await anyio.to_thread.run_sync(
                self._keep, ctx.job_id, beat, prompt, image, planned, refs, p, output.model, seed
            )
            timings["library"] += time.perf_counter() - start
            made.append(made_frame)
            frames.append(frame)
            # The frames so far go with the progress, so a client shows each as it finishes.
            partial = StoryboardProgress(frames=frames).model_dump(mode="json", by_alias=True)
            ctx.report(beat.index + 1, len(beats), partial)
        result = StoryboardResult(
            storyboard_id=p["storyboardId"],
            story_id=p.get("storyId"),
            story=story,
            frames=frames,
            provider=provider.name,
            model=model,
            timings=timings,
        )
        return result.model_dump(mode="json", by_alias=True)

    def _ref_images(self, planned: list[PlannedRef], made: list[_Made]) -> list[Ref]:
        refs = []
        for r in planned:
            c = r.candidate
            if c.frame is not None:
                image = made[c.frame].image
            else:
                assert c.id is not None
                with Image.open(self.resolve_library_image(c.id)) as img:
                    image = img.convert("RGB")
            refs.append(Ref(role=r.role, weight=r.weight, image=image, label=r.reason))
        return refs

    def _keep(
        self,
        job_id: str,
        beat: Beat,
        prompt: str,
        image: Image.Image,
        planned: list[PlannedRef],
        refs: list[Ref],
        p: dict[str, Any],
        model: str,
        seed: int,
    ) -> tuple[Frame, _Made]:
        """Store the frame (file + sidecar), add it to the library with its storyboard payload."""
        attribution = [
            FrameRef(
                role=r.role,
                weight=r.weight,
                similarity=round(r.candidate.similarity, 4),
                tier=r.candidate.tier,
                frame=r.candidate.frame,
                id=r.candidate.id,
                reason=r.reason,
            )
            for r in planned
        ]
        params = GenerateParams(
            provider=p["provider"],
            prompt=prompt,
            refs=[
                RefParam(role=r.role, weight=r.weight, file=self.files.store_input(ref.image), source=_source(r))
                for r, ref in zip(planned, refs, strict=True)
            ],
            seed=seed,
            width=int(p["width"]),
            height=int(p["height"]),
            steps=p.get("steps"),
            guidance=p.get("guidance"),
            owner=p.get("owner"),
            attribution=[a.model_dump(mode="json", by_alias=True) for a in attribution],
        )
        path = self.files.store_result(job_id, beat.index, image, params, model, seed, [])
        library_id: str | None = None
        if p.get("addToLibrary"):
            tags = [*prompt_tags(prompt, p["provider"]), "storyboard"]
            library_id = self.add_to_library(path, tags, f"storyboard:{p['provider']}", p.get("library"))
            self.files.record_library_id(path, library_id)
            if self.store is not None:
                self.store.set_payload(
                    [library_id],
                    {
                        "storyboardId": p["storyboardId"],
                        "frameIndex": beat.index,
                        "beat": beat.text,
                        "storyId": p.get("storyId"),
                    },
                )
        frame = Frame(
            index=beat.index,
            beat=beat.text,
            prompt=prompt,
            subjects=list(beat.subjects),
            url=GENERATED_URL + path.name,
            id=library_id,
            seed=seed,
            refs=attribution,
        )
        return frame, _Made(beat.index, image, self._image_vector(image), beat.subjects, library_id)


def _source(r: PlannedRef) -> dict[str, Any]:
    c = r.candidate
    return {"frame": c.frame} if c.frame is not None else {"id": c.id}
