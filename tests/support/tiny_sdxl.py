"""Build a tiny random-weight SDXL pipeline and IP-Adapter folder, for tests and demos.

    python -m tests.support.tiny_sdxl --out data/tiny-sdxl    # from the checkout's root

prints the environment lines that point the `sdxl` provider at it::

    GENERATION_PROVIDER=sdxl
    SDXL_MODEL=/abs/data/tiny-sdxl/sdxl
    IP_ADAPTER_MODEL=/abs/data/tiny-sdxl/ip-adapter
    ...

The pictures are noise, but every code path of the real provider runs: two text encoders,
SDXL's block layout (so the block-wise IP-Adapter scales apply), the IP-Adapter loaded by
diffusers' own `load_ip_adapter` from the public repository's layout
(`sdxl_models/ip-adapter_sdxl.safetensors` + `sdxl_models/image_encoder/`). Nothing is
downloaded; the folder is about 1.5 MB and builds in about a second.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

IP_ADAPTER_SUBFOLDER = "sdxl_models"
IP_ADAPTER_WEIGHT_NAME = "ip-adapter_sdxl.safetensors"
# A second adapter in the same folder for `face` refs (not in `env()`: add
# IP_ADAPTER_FACE_WEIGHT_NAME=<this> to load it); same layout, its own random weights.
IP_ADAPTER_FACE_WEIGHT_NAME = "ip-adapter-face_sdxl_tiny.safetensors"


@dataclass(frozen=True)
class TinySdxl:
    model_dir: Path
    ip_adapter_dir: Path
    # A tiny scribble ControlNet; not in `env()` (the default sketch path is img2img): add
    # SDXL_CONTROLNET_MODEL=<this> to try the ControlNet path.
    controlnet_dir: Path

    def env(self) -> dict[str, str]:
        """The settings that make the `sdxl` provider load this pipeline."""
        return {
            "GENERATION_PROVIDER": "sdxl",
            "SDXL_MODEL": str(self.model_dir),
            "IP_ADAPTER_MODEL": str(self.ip_adapter_dir),
            "IP_ADAPTER_SUBFOLDER": IP_ADAPTER_SUBFOLDER,
            "IP_ADAPTER_WEIGHT_NAME": IP_ADAPTER_WEIGHT_NAME,
            "SDXL_MAX_SIDE": "256",
        }


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's byte → printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def _write_tokenizer(folder: Path) -> int:
    """A byte-level CLIP tokenizer with no merges: every character is a token."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in _bytes_to_unicode():
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}),
        encoding="utf-8",
    )
    (folder / "special_tokens_map.json").write_text(
        json.dumps(
            {
                "bos_token": "<|startoftext|>",
                "eos_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>",
                "pad_token": "<|endoftext|>",
            }
        ),
        encoding="utf-8",
    )
    return len(vocab)


def build_tiny_sdxl(out: Path, seed: int = 0) -> TinySdxl:
    """Write `out/sdxl` (a diffusers SDXL folder) and `out/ip-adapter` (IP-Adapter layout)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        ControlNetModel,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0
    from diffusers.models.embeddings import ImageProjection
    from safetensors.torch import save_file
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    out = out.resolve()
    model_dir = out / "sdxl"
    ip_dir = out / "ip-adapter"
    torch.manual_seed(seed)

    staging = out / "_tokenizer"
    vocab_size = _write_tokenizer(staging)
    tokenizer = CLIPTokenizer.from_pretrained(str(staging), model_max_length=77)
    tokenizer_2 = CLIPTokenizer.from_pretrained(str(staging), model_max_length=77)

    text_config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=32,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=vocab_size,
        hidden_act="gelu",
        projection_dim=32,
        max_position_embeddings=77,
    )
    text_encoder = CLIPTextModel(text_config)
    text_encoder_2 = CLIPTextModelWithProjection(text_config)

    # SDXL's layout at tiny width: 3 down / 3 up blocks, cross-attention in the last two
    # down and the first two up blocks, 2 layers per block (3 attentions per up block), so
    # `{"up": {"block_0": [0, 1, 0]}}` and `{"down": {"block_2": [0, 1]}}` address real layers.
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32, 32),
        layers_per_block=2,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=(
            "DownBlock2D",
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
        ),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1, 1),
        projection_class_embeddings_input_dim=8 * 6 + 32,
        cross_attention_dim=64,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 8, 8, 8),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=4,
        layers_per_block=1,
        sample_size=64,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        steps_offset=1,
        beta_schedule="scaled_linear",
        timestep_spacing="leading",
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=scheduler,
    )
    pipe.save_pretrained(str(model_dir))

    # IP-Adapter: image projection (4 tokens × cross_attention_dim from the encoder's
    # projection) + to_k_ip/to_v_ip for every cross-attention processor, numbered the way
    # diffusers' converter reads them (1, 3, 5, … over cross-attention processors only).
    cross_dim = int(unet.config.cross_attention_dim)
    state: dict[str, torch.Tensor] = {}
    key_id = 1
    channels = list(unet.config.block_out_channels)
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name[len("up_blocks.")])]
        else:
            hidden = channels[int(name[len("down_blocks.")])]
        proc = IPAdapterAttnProcessor2_0(hidden_size=hidden, cross_attention_dim=cross_dim)
        sd = proc.state_dict()
        state[f"ip_adapter.{key_id}.to_k_ip.weight"] = sd["to_k_ip.0.weight"].contiguous()
        state[f"ip_adapter.{key_id}.to_v_ip.weight"] = sd["to_v_ip.0.weight"].contiguous()
        key_id += 2
    image_embed_dim = 32
    projection = ImageProjection(
        cross_attention_dim=cross_dim,
        image_embed_dim=image_embed_dim,
        num_image_text_embeds=4,
    ).state_dict()
    state["image_proj.proj.weight"] = projection["image_embeds.weight"].contiguous()
    state["image_proj.proj.bias"] = projection["image_embeds.bias"].contiguous()
    state["image_proj.norm.weight"] = projection["norm.weight"].contiguous()
    state["image_proj.norm.bias"] = projection["norm.bias"].contiguous()
    (ip_dir / IP_ADAPTER_SUBFOLDER).mkdir(parents=True, exist_ok=True)
    save_file(state, str(ip_dir / IP_ADAPTER_SUBFOLDER / IP_ADAPTER_WEIGHT_NAME))
    face = {key: (torch.randn_like(value) * 0.1).contiguous() for key, value in state.items()}
    save_file(face, str(ip_dir / IP_ADAPTER_SUBFOLDER / IP_ADAPTER_FACE_WEIGHT_NAME))

    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=image_embed_dim,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            intermediate_size=37,
            patch_size=8,
        )
    )
    encoder.save_pretrained(str(ip_dir / IP_ADAPTER_SUBFOLDER / "image_encoder"))

    # ControlNet from the UNet's encoder; its zero-initialised output convolutions get small
    # random weights so the conditioning scale visibly matters.
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 8, 8, 16))
    with torch.no_grad():
        for module in [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block]:
            torch.nn.init.normal_(module.weight, std=0.2)
    controlnet_dir = out / "controlnet-scribble"
    controlnet.save_pretrained(str(controlnet_dir))

    for leftover in staging.iterdir():
        leftover.unlink()
    staging.rmdir()
    return TinySdxl(model_dir=model_dir, ip_adapter_dir=ip_dir, controlnet_dir=controlnet_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write (created)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tiny = build_tiny_sdxl(args.out, seed=args.seed)
    for key, value in tiny.env().items():
        print(f"{key}={value}")
    print(f"# SDXL_CONTROLNET_MODEL={tiny.controlnet_dir}")


if __name__ == "__main__":
    main()
