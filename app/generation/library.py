"""What generation needs of the image library, injected so generation knows neither Qdrant
nor HTTP: `resolve_library_image(id) -> Path` (refs by id) and `add_to_library(path, tags,
source, library) -> id` (`addToLibrary`). A process without the library store (a job worker
without QDRANT_URL) passes `LibraryUnavailable` hooks, which refuse with the setting to change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from app.errors import UnavailableError

ResolveLibraryImage = Callable[[str], Path]
# (path, tags, source, library): library None = the service's default library.
AddToLibrary = Callable[[Path, list[str], str, str | None], str]


@dataclass(frozen=True)
class LibraryUnavailable:
    """Both library hooks of a process that has no library store: a call raises
    `UnavailableError` naming `setting`, and `check` refuses such a request at submit."""

    reason: str
    setting: str = "QDRANT_URL"

    def error(self, what: str, field: str) -> UnavailableError:
        return UnavailableError(f"{what} is not available: {self.reason}", self.setting, field=field)

    def __call__(self, *args: object) -> NoReturn:
        raise self.error("The library", "addToLibrary")


NO_LIBRARY = LibraryUnavailable("this server has no library store wired to generation.")
