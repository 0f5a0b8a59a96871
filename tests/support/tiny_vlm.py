"""A tiny random-weight LLaVA built in code (no download): a 2-layer CLIP vision tower, a
2-layer Llama text model, a word-level tokenizer and a LLaVA-1.5-style chat template, saved
as a folder `AutoProcessor` / `AutoModelForImageTextToText` load like a Hub checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch

IMAGE_TOKEN = "<image>"
# The LLaVA-1.5 conversation layout ("USER: <image>\n… ASSISTANT:") over message content parts.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>\n"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %} {% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
IMAGE_SIDE = 32
PATCH = 8
# One image token per patch (the CLS token is dropped: the "default" feature strategy).
IMAGE_TOKENS = (IMAGE_SIDE // PATCH) ** 2


def build_tiny_vlm(folder: Path) -> Path:
    """Save the tiny LLaVA under `folder`/llava; returns that folder (for STORY_MODEL)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    words = ["<unk>", "<s>", "</s>", "<pad>", IMAGE_TOKEN, "USER", ":", "ASSISTANT", "{", "}", '"', ",", "[", "]"]
    words += [*"abcdefghijklmnopqrstuvwxyz", "title", "paragraphs", "subjects", "setting", "fox", "forest"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # type: ignore[assignment]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": IMAGE_SIDE}, crop_size={"height": IMAGE_SIDE, "width": IMAGE_SIDE}
        ),
        tokenizer=fast,
        patch_size=PATCH,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )
    config = LlavaConfig(
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": IMAGE_SIDE,
            "patch_size": PATCH,
            "projection_dim": 16,
        },
        text_config={
            "model_type": "llama",
            "vocab_size": len(words),
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "max_position_embeddings": 512,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "pad_token_id": 3,
        },
        image_token_index=words.index(IMAGE_TOKEN),
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    model_dir = folder / "llava"
    LlavaForConditionalGeneration(config).save_pretrained(model_dir)
    processor.save_pretrained(model_dir)
    return model_dir


def main() -> None:
    """`python -m tests.support.tiny_vlm --out DIR`: build it and print the setting that points
    the story provider at it (the browser tests' harness reads the line)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write (created)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"STORY_MODEL={build_tiny_vlm(args.out)}")


if __name__ == "__main__":
    main()
