"""The `generate` job handler (worker side): run the provider on the stored inputs, store
each result with its sidecar, and add it to the library when asked."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio

from app.generation.base import GenerationSpec, Hooks, Ref
from app.generation.factory import ProviderRegistry
from app.generation.files import GENERATED_URL, GeneratedFiles
from app.generation.library import AddToLibrary
from app.generation.models import GenerateParams
from app.jobs.base import JobContext
from app.telemetry import span

JOB_KIND = "generate"
_WORD = re.compile(r"[a-z][a-z0-9-]{2,}")
_STOPWORDS = frozenset(
    {
        "the",
        "and",
        "with",
        "for",
        "from",
        "into",
        "onto",
        "over",
        "under",
        "this",
        "that",
    }
    | {"its", "are", "was", "were", "has", "have", "not", "but", "very"}
)


def prompt_tags(prompt: str, provider: str, limit: int = 16) -> list[str]:
    """Tags for a generated image added to the library: `generated`, the provider, and the
    prompt's words (lowercase, ≥ 3 letters, no stop words), so it is findable by text."""
    words: list[str] = []
    for word in _WORD.findall(prompt.lower()):
        if word not in _STOPWORDS and word not in words:
            words.append(word)
    return ["generated", provider, *words[:limit]]


class GenerateJob:
    def __init__(self, providers: ProviderRegistry, files: GeneratedFiles, add_to_library: AddToLibrary) -> None:
        self.providers = providers
        self.files = files
        self.add_to_library = add_to_library

    async def __call__(self, raw: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        params = GenerateParams.model_validate(raw)
        provider = self.providers.get(params.provider)
        spec = await anyio.to_thread.run_sync(self._spec, params)
        with span("generation.provider", provider=provider.name, images=spec.n, refs=len(spec.refs)):
            output = await provider.generate(spec, Hooks(report=ctx.report, check_cancelled=ctx.check_cancelled))
        ctx.check_cancelled()
        images: list[dict[str, Any]] = []
        for i, image in enumerate(output.images):
            if params.add_to_library and (
                earlier := await anyio.to_thread.run_sync(self.files.added_earlier, ctx.job_id, i)
            ):
                # An earlier attempt of this job already added image i to the library: keep
                # that one, so a retry neither adds it twice nor orphans the first point.
                images.append(earlier)
                continue
            seed = output.seeds[i] if i < len(output.seeds) else None
            path = await anyio.to_thread.run_sync(
                self.files.store_result,
                ctx.job_id,
                i,
                image,
                params,
                output.model,
                seed,
                output.notes,
            )
            entry: dict[str, Any] = {
                "url": GENERATED_URL + path.name,
                "id": None,
                "seed": seed,
            }
            if params.add_to_library:
                tags = prompt_tags(params.prompt, params.provider)
                entry["id"] = await anyio.to_thread.run_sync(
                    self.add_to_library, path, tags, f"generated:{params.provider}", params.library
                )
                await anyio.to_thread.run_sync(self.files.record_library_id, path, entry["id"])
            images.append(entry)
        return {
            "images": images,
            "provider": params.provider,
            "model": output.model,
            # The seed actually used (null where the provider could not honour one).
            "seed": output.seeds[0] if output.seeds else None,
            "notes": output.notes,
            **({"attribution": params.attribution} if params.attribution is not None else {}),
        }

    def _spec(self, params: GenerateParams) -> GenerationSpec:
        load = self.files.load_input
        refs = [
            Ref(
                role=r.role,
                weight=r.weight,
                image=load(r.file),
                label=json.dumps(r.source),
            )
            for r in params.refs
        ]
        return GenerationSpec(
            prompt=params.prompt,
            negative_prompt=params.negative_prompt,
            refs=refs,
            sketch=load(params.sketch) if params.sketch else None,
            sketch_weight=params.sketch_weight,
            seed=params.seed if params.seed is not None else 0,
            width=params.width,
            height=params.height,
            n=params.n,
            steps=params.steps,
            guidance=params.guidance,
            base=load(params.base_image) if params.base_image else None,
            # Stored as RGB (and maybe thumbnailed): binary again, white = edit.
            mask=load(params.mask).convert("L").point(lambda v: 255 if v >= 128 else 0) if params.mask else None,
            strength=params.strength,
            edit_mode=params.edit_mode,
        )
