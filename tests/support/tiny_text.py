"""A tiny random-weight sentence-transformers model (a 2-layer BERT + mean pooling) for the
`text` view, saved as a folder: what `TEXT_MODEL` loads, built offline in about a second."""

from __future__ import annotations

from pathlib import Path


def build_tiny_text_model(folder: Path) -> Path:
    """Save the model under `folder/text-model` and return that folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizer

    base = folder / "bert"
    base.mkdir(parents=True, exist_ok=True)
    words = "red green blue circle square triangle star cat dog picture a an the of with".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *"abcdefghijklmnopqrstuvwxyz"]
    (base / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(base / "vocab.txt")).save_pretrained(base)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64,
    )  # fmt: skip
    BertModel(config).save_pretrained(base)
    transformer = Transformer(str(base), max_seq_length=32)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    out = folder / "text-model"
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(out))
    return out
