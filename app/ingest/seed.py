"""AUTO_INGEST: seed the default library from IMAGES_ROOT's manifest.jsonl, once."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from app.ingest.sources import read_manifest
from app.ingest.target import IngestTarget
from app.library.registry import LibraryRegistry

log = logging.getLogger(__name__)


def seed_sample_library(target: IngestTarget, registry: LibraryRegistry) -> None:
    """Ingest IMAGES_ROOT/manifest.jsonl into the default library, unless done already.

    A demo stopped half-way through its first ingest finishes on the next start: the
    pipeline skips what is stored (point ids come from file content), so the re-run
    embeds only the missing images. Once a manifest has been ingested to the end, the
    registry records its digest and later starts leave the library alone, so an image
    deleted from it stays deleted. A changed manifest is seeded again.
    """
    root = Path(target.settings.IMAGES_ROOT)
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        log.warning("AUTO_INGEST: %s has no manifest.jsonl; starting with an empty library", root)
        return
    opts = target.options()
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    if registry.was_seeded(opts.library, digest):
        log.info("AUTO_INGEST: library %r was seeded from %s already", opts.library, manifest)
        return
    items = list(read_manifest(manifest, base=root))
    log.info("AUTO_INGEST: seeding library %r from %s (%d images)…", opts.library, manifest, len(items))
    report = target.ingestor(opts).run(items)
    log.info("AUTO_INGEST: %s", report.summary())
    for f in report.failures:  # per file, logged; running again would not mend them
        log.warning("AUTO_INGEST failed: %s: %s", f.path, f.reason)
    registry.mark_seeded(opts.library, digest)
