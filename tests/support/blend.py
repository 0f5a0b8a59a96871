"""A generation provider that needs no weights, for tests of what surrounds generation."""

from __future__ import annotations

from PIL import Image

from app.generation.base import Capabilities, GenerationSpec, Hooks, ImageProvider, ProviderOutput


class BlendProvider(ImageProvider):
    """The mean colour of its references (or grey), served as `sdxl`."""

    name = "sdxl"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_refs=4, max_n=2, sketch=True, negative_prompt=True, ref_weights=True)

    @property
    def model_name(self) -> str:
        return "blend"

    def _load(self) -> None:
        pass

    def _generate(self, spec: GenerationSpec, hooks: Hooks) -> ProviderOutput:
        image = Image.new("RGB", (spec.width, spec.height), (128, 128, 128))
        for ref in spec.refs:
            image = Image.blend(image, ref.image.convert("RGB").resize(image.size), 0.5)
        return ProviderOutput(images=[image] * spec.n, model="blend", seeds=[spec.seed + i for i in range(spec.n)])
