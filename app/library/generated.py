"""`addToLibrary`: a generated image becomes a library image, findable by its prompt."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from app.errors import ClippyError
from app.ingest.sources import Item
from app.ingest.target import IngestTarget
from app.storage.schema import content_sha256, point_id


class GeneratedToLibrary:
    """The `add_to_library` hook generation calls (app/generation/service.py)."""

    def __init__(self, target: IngestTarget) -> None:
        self.target = target

    def __call__(self, path: Path, tags: list[str], source: str, library: str | None = None) -> str:
        """Copy a generated image under IMAGES_ROOT/generated/ and embed it into `library`
        (checked at submit; None: DEFAULT_LIBRARY), with its prompt (from the sidecar) as
        the caption, so search finds it by text. The copy is the library's own (`owned`)."""
        root = Path(self.target.settings.IMAGES_ROOT)
        dest = root / "generated" / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Copied whole or not at all (a temp file, then a rename); a process killed before the
        # embedding below leaves a copy no point names, which the start-up sweep removes
        # (app/library/imports/orphans.py `sweep_copies`).
        temp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(path, temp)
        os.replace(temp, dest)
        sidecar_path = path.with_suffix(".json")
        sidecar = json.loads(sidecar_path.read_text()) if sidecar_path.is_file() else {}
        extra = {
            "caption": sidecar.get("prompt") or None,
            "generated": {k: sidecar.get(k) for k in ("jobId", "provider", "model", "seed")},
        }
        opts = self.target.options(source=source, owned=True, **({"library": library} if library else {}))
        report = self.target.ingestor(opts).run([Item(dest, tags, extra)])
        if report.failures:
            raise ClippyError(f"could not add {path.name} to the library: {report.failures[0].reason}")
        return point_id(content_sha256(dest.read_bytes()), opts.library)
