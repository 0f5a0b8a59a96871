"""Train small projection heads on a collection's own (image, tags text) pairs.

The OpenCLIP towers stay frozen and no image is re-encoded: each item's stored `image`
vector is paired with a text-tower embedding of its tags text (the same sentence the
`text` view embeds: TEXT_TEMPLATE over the tags, after the caption). --text-source picks
that tower:

  clip    the OpenCLIP text tower (default) — what a text query uses to search the `image`
          view; the texts are encoded here, in batches
  stored  the stored `text` vectors (TEXT_MODEL's tower); nothing is encoded, and with a
          sentence-transformers model the text head is a linear map 384 → image dim

Items are split into train / validation by text (a validation text is never trained on).
Text→image MRR and mAP on both splits, before (frozen model) and after training, are
printed as a table and written to the adapter's JSON sidecar (and --report).
Weights: <ADAPTERS_ROOT>/<COLLECTION>/<name>.safetensors, metadata: <name>.json.

Enabling it: set ADAPTER=<COLLECTION>/<name> (or a path to the file). The image head changes
the stored `image` vectors, so the library must be re-embedded into a collection of its own —
the embedding cache holds the raw tower vectors, so no picture goes through the model again:
  COLLECTION=<COLLECTION>_<name> ADAPTER=<COLLECTION>/<name> clippy ingest --manifest <manifest>
and serve with the same COLLECTION and ADAPTER. A collection and a service that disagree on
ADAPTER refuse each other (409). Train on a collection embedded without an adapter.

Deeper: --unfreeze-blocks N fine-tunes the towers themselves (app/library/finetune.py): the
last N transformer blocks of each tower learn at --backbone-lr, the projections, final norms
and temperature at --lr, the rest stays frozen; the pictures are read again from IMAGES_ROOT
(--images-root). Training stops early when the validation MRR has not improved for
--patience epochs, and keeps the best epoch's weights. It writes a full OpenCLIP checkpoint
(<ADAPTERS_ROOT>/<COLLECTION>/<name>-clip.safetensors) that PRETRAINED=<path> loads, and the
report compares, on the same split, the frozen model, the frozen-adapter heads trained on the
same rows, and the unfrozen model. A new checkpoint is a new embedding space: embed the library
again with PRETRAINED=<path> into a collection of its own.

examples:
  python scripts/finetune_adapter.py --epochs 50 --name tags
  python scripts/finetune_adapter.py --unfreeze-blocks 2 --epochs 10 --patience 3 --backbone-lr 1e-5 --name deep
  TEXT_MODEL=all-MiniLM-L6-v2 python scripts/finetune_adapter.py --text-source stored --heads text
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from app.cli_common import settings_from_flags, setup_logging
from app.config import Settings
from app.embedding import Encoders, load_encoders
from app.embedding.adapter import HEADS, save_adapter
from app.errors import ClippyError
from app.library.adapter import TrainConfig, train_adapter
from app.storage import VectorStore, open_store
from app.storage.paging import iter_points, scope_filter
from app.storage.schema import check_space

log = logging.getLogger("finetune_adapter")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="adapter", help="file name of the adapter under ADAPTERS_ROOT/COLLECTION/")
    p.add_argument("--text-source", choices=("clip", "stored"), default="clip")
    p.add_argument("--heads", default="image,text", help="heads that learn: image,text | text | image")
    p.add_argument("--library", default=None, help="only this library's items")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", type=Path, default=None, help="also write the metrics JSON here")
    p.add_argument("--adapters-root", type=Path, default=None, help="ADAPTERS_ROOT")
    p.add_argument("--qdrant-url", default=None)
    p.add_argument("--qdrant-path", type=Path, default=None)
    p.add_argument("--collection", default=None)
    p.add_argument("--model", default=None, help="MODEL_NAME")
    p.add_argument("--pretrained", default=None, help="PRETRAINED")
    p.add_argument("--text-model", default=None, help="TEXT_MODEL")
    p.add_argument("--device", default=None)
    p.add_argument(
        "--unfreeze-blocks", type=int, default=0, help="fine-tune the last N blocks of each tower (0: heads only)"
    )
    p.add_argument("--backbone-lr", type=float, default=1e-5, help="with --unfreeze-blocks: the blocks' learning rate")
    p.add_argument("--patience", type=int, default=3, help="with --unfreeze-blocks: epochs without a better val MRR")
    p.add_argument("--images-root", type=Path, default=None, help="IMAGES_ROOT (the stored paths are relative to it)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.unfreeze_blocks < 0 or args.patience < 1:
        p.error("--unfreeze-blocks must be ≥ 0 and --patience ≥ 1")
    if args.unfreeze_blocks and args.text_source != "clip":
        p.error("--unfreeze-blocks trains the OpenCLIP text tower: use --text-source clip")
    args.heads = tuple(h.strip() for h in args.heads.split(",") if h.strip())
    if not args.heads or set(args.heads) - set(HEADS):
        p.error(f"--heads must name some of {list(HEADS)}, got {args.heads}")
    if args.epochs < 1 or args.batch_size < 2:
        p.error("--epochs must be ≥ 1 and --batch-size ≥ 2")
    return args


def tags_text(template: str, tags: list[str], caption: str | None) -> str | None:
    """The sentence the `text` view embedded for an item (Encoders.tags_text, without a model)."""
    words = ", ".join(t.replace("_", " ") for t in tags if t)
    if caption:
        return f"{caption}. {template.format(tags=words)}" if words else caption
    return template.format(tags=words) if words else None


def collect_pairs(
    store: VectorStore, encoders: Encoders | None, text_source: str, library: str | None, template: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Stored image vectors, text vectors (encoded or stored), and each item's tags text."""
    views = ["image", "text"] if text_source == "stored" else ["image"]
    images, texts, keys = [], [], []
    for _, payload, vectors in tqdm(
        iter_points(store, scope_filter(library), with_vectors=views), desc="pairs", unit="pt", file=sys.stderr
    ):
        tags = [t for t in payload.get("tags") or [] if t]
        caption = payload.get("caption")
        text = tags_text(template, tags, caption)
        if "image" not in vectors or not text or (text_source == "stored" and "text" not in vectors):
            continue
        images.append(vectors["image"])
        keys.append(text)
        if text_source == "stored":
            texts.append(vectors["text"])
    if text_source == "clip" and keys:
        assert encoders is not None
        unique = list(dict.fromkeys(keys))
        batch = 64
        rows = np.concatenate([encoders.clip.encode_texts(unique[i : i + batch]) for i in range(0, len(unique), batch)])
        of = dict(zip(unique, rows, strict=True))
        texts = [of[k] for k in keys]
    return np.asarray(images, dtype=np.float32), np.asarray(texts, dtype=np.float32), keys


def format_table(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> str:
    lines = [f"{'split':<11} {'queries':>7} {'MRR before':>10} {'MRR after':>10} {'mAP before':>10} {'mAP after':>10}"]
    for split in ("train", "validation"):
        b, a = before[split], after[split]
        figures = " ".join(f"{v:>10.4f}" for v in (b["MRR"], a["MRR"], b["mAP"], a["mAP"]))
        lines.append(f"{split:<11} {int(b['queries']):>7} {figures}")
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings, store: VectorStore) -> dict[str, Any]:
    space = store.space() or {}
    if space.get("adapter"):
        raise ClippyError(
            f"Collection {store.collection!r} was embedded through adapter {space['adapter'].get('name')!r}: "
            "its `image` vectors are already projected. Train on a collection embedded without ADAPTER."
        )
    # The frozen towers: the heads learn on raw vectors, whatever ADAPTER the environment sets.
    settings = settings.model_copy(update={"ADAPTER": None})
    encoders = load_encoders(settings) if args.text_source == "clip" else None
    if encoders is not None and space:
        check_space(store.collection, space, encoders.space(), writing=False)
    template = str(space.get("text_template") or settings.TEXT_TEMPLATE)
    if args.unfreeze_blocks:
        assert encoders is not None
        return run_unfrozen(args, settings, store, encoders, template, space)
    image, text, keys = collect_pairs(store, encoders, args.text_source, args.library, template)
    if len(set(keys)) < 2:
        raise ClippyError(f"Collection {store.collection!r} has {len(set(keys))} distinct tags texts; need at least 2.")
    result = train_adapter(image, text, keys, adapter_config(args))
    root = args.adapters_root or settings.ADAPTERS_ROOT
    meta: dict[str, Any] = {
        "name": args.name,
        "collection": store.collection,
        "library": args.library,
        "model": space.get("model"),
        "pretrained": space.get("pretrained"),
        "textSource": args.text_source,
        "textModel": "clip" if args.text_source == "clip" else space.get("text_model"),
        "textTemplate": space.get("text_template", settings.TEXT_TEMPLATE),
        "heads": list(args.heads),
        "epochs": args.epochs,
        "batchSize": args.batch_size,
        "lr": args.lr,
        "weightDecay": args.weight_decay,
        "seed": args.seed,
        "nTrain": result.n_train,
        "nValidation": result.n_val,
        "finalLoss": result.losses[-1] if result.losses else None,
        "metrics": {"before": result.before, "after": result.after},
        "createdAt": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    weights, sidecar = save_adapter(result.adapter, root / store.collection / args.name, meta)
    meta["files"] = {"weights": str(weights), "meta": str(sidecar)}
    # The ADAPTER value that finds it: short under the configured root, else the path.
    stem = root / store.collection / args.name
    meta["enable"] = {"ADAPTER": f"{store.collection}/{args.name}" if root == settings.ADAPTERS_ROOT else str(stem)}
    return meta


def collect_files(
    store: VectorStore, encoders: Encoders, library: str | None, template: str, images_root: Path
) -> tuple[list[Path], np.ndarray, np.ndarray, list[str]]:
    """Items whose picture file is still there: paths, stored image vectors, CLIP text vectors, texts."""
    from app.storage.files import safe_join

    paths, images, keys = [], [], []
    for _, payload, vectors in tqdm(
        iter_points(store, scope_filter(library), with_vectors=["image"]), desc="pairs", unit="pt", file=sys.stderr
    ):
        text = tags_text(template, [t for t in payload.get("tags") or [] if t], payload.get("caption"))
        if "image" not in vectors or not text or not payload.get("path"):
            continue
        try:
            path = safe_join(images_root, str(payload["path"]))
        except ClippyError:
            continue
        if path.is_file():
            paths.append(path)
            images.append(vectors["image"])
            keys.append(text)
    unique = list(dict.fromkeys(keys))
    rows = [encoders.clip.encode_texts(unique[i : i + 64]) for i in range(0, len(unique), 64)]
    of = dict(zip(unique, np.concatenate(rows) if rows else [], strict=True))
    texts = np.asarray([of[k] for k in keys], dtype=np.float32)
    return paths, np.asarray(images, dtype=np.float32), texts, keys


def adapter_config(args: argparse.Namespace) -> TrainConfig:
    """The frozen-backbone adapter's training settings, from the command line (both runs use it:
    the adapter alone, and the baseline an unfrozen run is compared with)."""
    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        val_fraction=args.val_fraction,
        seed=args.seed,
        heads=args.heads,
    )


def run_unfrozen(
    args: argparse.Namespace,
    settings: Settings,
    store: VectorStore,
    encoders: Encoders,
    template: str,
    space: dict[str, Any],
) -> dict[str, Any]:
    """The frozen adapter and the unfrozen towers, trained on the same rows and split."""
    import open_clip

    from app.library.finetune import UnfreezeConfig, finetune_towers, save_checkpoint

    images_root = Path(args.images_root or settings.IMAGES_ROOT)
    paths, image, text, keys = collect_files(store, encoders, args.library, template, images_root)
    if len(set(keys)) < 2:
        raise ClippyError(
            f"Collection {store.collection!r} has {len(set(keys))} distinct tags texts with their files under "
            f"{images_root}; need at least 2 (is --images-root / IMAGES_ROOT the folder it was ingested from?)."
        )
    adapter = train_adapter(image, text, keys, adapter_config(args))
    config = UnfreezeConfig(
        blocks=args.unfreeze_blocks,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        backbone_lr=args.backbone_lr,
        weight_decay=args.weight_decay,
        val_fraction=args.val_fraction,
        seed=args.seed,
        patience=args.patience,
    )
    clip = encoders.clip
    model: Any = getattr(clip, "model")  # noqa: B009  (OpenClipModel: the torch module)

    def epoch_log(epoch: int, loss: float, mrr: float) -> None:
        log.info("epoch %d: loss %.4f, validation MRR %.4f", epoch, loss, mrr)

    result = finetune_towers(
        model,
        clip.preprocess,  # type: ignore[attr-defined]
        open_clip.get_tokenizer(settings.MODEL_NAME),
        paths,
        keys,
        config,
        device=clip.device,  # type: ignore[attr-defined]
        on_epoch=epoch_log,
    )
    root = args.adapters_root or settings.ADAPTERS_ROOT
    checkpoint = save_checkpoint(model, root / store.collection / f"{args.name}-clip.safetensors")
    meta: dict[str, Any] = {
        "name": args.name,
        "mode": "unfrozen",
        "collection": store.collection,
        "library": args.library,
        "model": space.get("model") or settings.MODEL_NAME,
        "pretrained": space.get("pretrained") or settings.PRETRAINED,
        "textTemplate": template,
        "unfreezeBlocks": args.unfreeze_blocks,
        "epochs": args.epochs,
        "epochsRun": result.epochs_run,
        "bestEpoch": result.best_epoch,
        "patience": args.patience,
        "batchSize": args.batch_size,
        "lr": args.lr,
        "backboneLr": args.backbone_lr,
        "weightDecay": args.weight_decay,
        "seed": args.seed,
        "nTrain": result.n_train,
        "nValidation": result.n_val,
        "trainable": result.trainable,
        "losses": result.losses,
        "validationMrr": result.val_mrr,
        "metrics": {
            "before": result.before,
            "adapter": adapter.after,
            "after": result.after,
        },
        "createdAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": {"checkpoint": str(checkpoint)},
        "enable": {"PRETRAINED": str(checkpoint), "MODEL_NAME": settings.MODEL_NAME},
    }
    return meta


def format_comparison(metrics: dict[str, dict[str, dict[str, float]]]) -> str:
    """Frozen model, frozen-adapter heads and unfrozen towers, on the same split."""
    columns = (("before", "frozen"), ("adapter", "adapter"), ("after", "unfrozen"))
    head = (
        " ".join(f"{'MRR ' + label:>12}" for _, label in columns)
        + " "
        + " ".join(f"{'mAP ' + label:>12}" for _, label in columns)
    )
    lines = [f"{'split':<11} {'queries':>7} {head}"]
    for split in ("train", "validation"):
        row = [metrics[key][split] for key, _ in columns]
        figures = " ".join(f"{m['MRR']:>12.4f}" for m in row) + " " + " ".join(f"{m['mAP']:>12.4f}" for m in row)
        lines.append(f"{split:<11} {int(row[0]['queries']):>7} {figures}")
    return "\n".join(lines)


def enable_hint(collection: str, value: str, name: str) -> str:
    return (
        f"To apply it: set ADAPTER={value} and re-embed the library into its own collection "
        "(the embedding cache holds the raw vectors: no picture is re-encoded), e.g.\n"
        f"  COLLECTION={collection}_{name} ADAPTER={value} clippy ingest --manifest <manifest>\n"
        f"then serve with COLLECTION={collection}_{name} ADAPTER={value}."
    )


def main(argv: list[str] | None = None, store: VectorStore | None = None) -> int:
    """`store`: an open store to read instead of opening one from the flags (tests)."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    settings = settings_from_flags(
        QDRANT_URL=args.qdrant_url,
        QDRANT_PATH=args.qdrant_path,
        COLLECTION=args.collection,
        MODEL_NAME=args.model,
        PRETRAINED=args.pretrained,
        TEXT_MODEL=args.text_model,
        DEVICE=args.device,
    )
    owned = store is None
    try:
        store = store or open_store(settings)
        try:
            meta = run(args, settings, store)
        finally:
            if owned:
                store.close()
    except (ClippyError, ValueError) as e:
        print(f"error: {getattr(e, 'message', e)}", file=sys.stderr)
        return 2
    if meta.get("mode") == "unfrozen":
        print(format_comparison(meta["metrics"]))
        checkpoint = meta["enable"]["PRETRAINED"]
        print(
            f"best epoch {meta['bestEpoch']} of {meta['epochsRun']} run. To use it: embed the library again with "
            f"PRETRAINED={checkpoint} into a collection of its own, e.g.\n"
            f"  COLLECTION={meta['collection']}_{meta['name']} PRETRAINED={checkpoint} clippy ingest --manifest <manifest>\n"
            f"then serve with the same COLLECTION and PRETRAINED."
        )
        summary = {"files": meta["files"], "enable": meta["enable"], "nTrain": meta["nTrain"]}
    else:
        print(format_table(meta["metrics"]["before"], meta["metrics"]["after"]))
        print(enable_hint(meta["collection"], meta["enable"]["ADAPTER"], meta["name"]))
        summary = {"adapter": meta["files"], "enable": meta["enable"], "nTrain": meta["nTrain"]}
    print(json.dumps({**summary, "nValidation": meta["nValidation"]}))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(meta, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
