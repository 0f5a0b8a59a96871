"""CLIP's text tower on the tokens that carry text, not the 77-token context.

OpenCLIP pads every text to the context length and runs the tower on all of it. In a CLIP
text tower attention is causal (a position sees only the ones before it) and the output is
the end-of-text position's, so positions after the longest text's end change nothing: the
same tower on the first L positions (positional embedding and causal mask cut to L) gives
the same features (tests/embedding/test_text_trim.py). A search query is a few words, L ≈ 10,
so the tower does about a seventh of the work (bench/README.md, "Text tower").

Only for the towers where that holds: OpenCLIP's `CLIP` class with a causal mask, pooled at
the end-of-text token, and the CLIP tokenizer (padding 0 after the end token). Anything else
runs `encode_text` as it is.
"""

from __future__ import annotations

from typing import Any

import open_clip
import torch
from open_clip.transformer import text_global_pool


def trims(model: Any, tokenizer: Any) -> bool:
    """Whether `trimmed_text_features` is exact for this model and tokenizer."""
    return (
        isinstance(model, open_clip.model.CLIP)
        and getattr(model, "attn_mask", None) is not None
        and getattr(model, "text_pool_type", None) == "argmax"
        and isinstance(tokenizer, open_clip.tokenizer.SimpleTokenizer)
        and getattr(model.transformer, "batch_first", True)
    )


def trimmed_text_features(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """`model.encode_text(tokens)` (unnormalised) run on the positions up to the longest text's
    end token. Call only where `trims(model, tokenizer)`."""
    length = max(1, int((tokens != 0).sum(dim=1).max()))
    tokens = tokens[:, :length]
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast) + model.positional_embedding[:length].to(cast)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    pooled: torch.Tensor = text_global_pool(model.ln_final(x), tokens, model.text_pool_type)
    projection = model.text_projection
    if projection is None:
        return pooled
    out: torch.Tensor = projection(pooled) if isinstance(projection, torch.nn.Linear) else pooled @ projection
    return out
