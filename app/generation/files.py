"""The files generation keeps under GENERATED_ROOT::

inputs/<sha256>.png        normalised references and sketches (content-addressed)
<name>.png                 a generated image, served at /generated/<name>.png
<name>.json                its sidecar: prompt, refs, seed, provider, model, size, …
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from app.errors import NotFoundError
from app.generation.models import GenerateParams
from app.jobs.base import utcnow

INPUTS = "inputs"
GENERATED_URL = "/generated/"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.(png|json)$")


@dataclass(frozen=True)
class EncodedInput:
    """A normalised input image, named by its content, not yet written."""

    name: str
    data: bytes


class GeneratedFiles:
    def __init__(self, root: Path, ref_max_side: int) -> None:
        self.root = root
        self.ref_max_side = ref_max_side

    # --- inputs (API side) -------------------------------------------------------------

    def encode_input(self, image: Image.Image) -> EncodedInput:
        """Normalise (RGB, longest side ≤ REF_MAX_SIDE) and name by content hash; nothing is
        written yet, so a request refused after this leaves no file behind."""
        img = image.convert("RGB")
        side = self.ref_max_side
        if max(img.size) > side:
            img.thumbnail((side, side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        data = buf.getvalue()
        return EncodedInput(f"{hashlib.sha256(data).hexdigest()}.png", data)

    def write_inputs(self, inputs: Iterable[EncodedInput]) -> None:
        """Store encoded inputs (once per content). One already there is touched: the sweep
        (`sweep_inputs`) goes by the last time a job asked for the file."""
        for encoded in inputs:
            path = self.root / INPUTS / encoded.name
            if path.exists():
                path.touch()
            else:
                atomic_write(path, encoded.data)

    def store_input(self, image: Image.Image) -> str:
        """`encode_input` and `write_inputs` at once."""
        encoded = self.encode_input(image)
        self.write_inputs([encoded])
        return encoded.name

    def sweep_inputs(self, older_than_s: float) -> int:
        """Remove inputs no job asked for in `older_than_s` (JOB_TTL_S: the records of the jobs
        that used them have expired, so no retry needs them); how many went."""
        folder = self.root / INPUTS
        if not folder.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for path in folder.glob("*.png"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # another process swept it
                pass
        return removed

    def load_input(self, file: str) -> Image.Image:
        path = self.root / INPUTS / file
        if "/" in file or not path.is_file():
            raise NotFoundError(f"Stored input {file!r} is missing under GENERATED_ROOT/{INPUTS}.")
        with Image.open(path) as img:
            return img.convert("RGB")

    # --- results (worker side) -----------------------------------------------------------

    def added_earlier(self, job_id: str, index: int) -> dict[str, Any] | None:
        """The result entry of image `index` if an earlier attempt added it to the library."""
        sidecar_path = self.root / f"{job_id}-{index}.json"
        if not sidecar_path.is_file():
            return None
        sidecar = json.loads(sidecar_path.read_text())
        if not sidecar.get("libraryId"):
            return None
        return {"url": GENERATED_URL + sidecar["image"], "id": sidecar["libraryId"], "seed": sidecar.get("seed")}

    def record_library_id(self, path: Path, library_id: str) -> None:
        sidecar_path = path.with_suffix(".json")
        sidecar = json.loads(sidecar_path.read_text())
        sidecar["libraryId"] = library_id
        atomic_write(sidecar_path, json.dumps(sidecar, indent=2).encode())

    def store_result(
        self,
        job_id: str,
        index: int,
        image: Image.Image,
        params: GenerateParams,
        model: str,
        seed: int | None,
        notes: list[str],
    ) -> Path:
        stem = f"{job_id}-{index}"
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        path = self.root / f"{stem}.png"
        atomic_write(path, buf.getvalue())
        sidecar = {
            "image": path.name,
            "jobId": job_id,
            "index": index,
            "createdAt": utcnow().isoformat(),
            "provider": params.provider,
            "model": model,
            "seed": seed,
            "prompt": params.prompt,
            "negativePrompt": params.negative_prompt,
            "refs": [r.model_dump(by_alias=True) for r in params.refs],
            "sketch": params.sketch,
            "sketchWeight": params.sketch_weight,
            "width": image.width,
            "height": image.height,
            "steps": params.steps,
            "guidance": params.guidance,
            "notes": notes,
            **(
                {
                    "baseImage": params.base_image,
                    "baseSource": params.base_source,
                    "strength": params.strength,
                    "mask": params.mask,
                    "editMode": params.edit_mode,
                }
                if params.base_image is not None
                else {}
            ),
            **({"attribution": params.attribution} if params.attribution is not None else {}),
            **({"owner": params.owner} if params.owner is not None else {}),
        }
        atomic_write(self.root / f"{stem}.json", json.dumps(sidecar, indent=2).encode())
        return path

    # --- serving -------------------------------------------------------------------------

    def served(self, name: str, may_see: Callable[[str | None], bool] = lambda owner: True) -> Path:
        """A generated image or sidecar by name (GET /generated/{name}); 404 otherwise, and
        404 too when `may_see` refuses the owner its sidecar records (another tenant's)."""
        if not _NAME.match(name):
            raise NotFoundError(f"No generated file {name!r}.", name=name)
        path = (self.root / name).resolve()
        if path.parent != self.root.resolve() or not path.is_file():
            raise NotFoundError(f"No generated file {name!r}.", name=name)
        sidecar = path.with_suffix(".json")
        owner = json.loads(sidecar.read_text()).get("owner") if sidecar.is_file() else None
        if not may_see(owner):
            raise NotFoundError(f"No generated file {name!r}.", name=name)
        return path


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
