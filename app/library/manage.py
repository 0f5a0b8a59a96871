"""Creating, listing, showing and deleting libraries for a caller (POST/GET/DELETE /libraries).

The records live in the `LibraryRegistry`; what a library holds lives in the store under
the tenant field. `scope_for` is how every request learns what its caller may touch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from app.errors import ConflictError, ForbiddenError, NotFoundError
from app.library.access import LibraryScope, Principal
from app.library.browse import delete_library_points
from app.library.imports.orphans import sweep_staged
from app.library.models import CreateLibrary, DeletedLibrary, LibraryList, LibraryView
from app.library.profiles import ProfileStore
from app.library.registry import LibraryRecord, LibraryRegistry
from app.storage.base import VectorStore
from app.storage.files import safe_join
from app.storage.payload import Payload
from app.storage.schema import tenant_filter
from app.storage.thumbs import ThumbnailCache


class Libraries:
    def __init__(
        self,
        registry: LibraryRegistry,
        store: VectorStore,
        thumbs: ThumbnailCache,
        images_root: Path,
        profiles: ProfileStore,
    ):
        self.registry = registry
        # Feedback on its images shapes profiles; deleting a library removes it (app/library/profiles.py).
        self.profiles = profiles
        self.store = store
        self.thumbs = thumbs
        self.images_root = Path(images_root)

    @property
    def default_library(self) -> str:
        return self.registry.default_library

    def scope_for(self, principal: Principal) -> LibraryScope:
        """What `principal` may read and write; operators need no look-up."""
        if principal.owner is None:  # an operator
            return LibraryScope.build(principal, (), self.default_library)
        return LibraryScope.build(principal, self.registry.visible_to(principal.owner), self.default_library)

    def image_path(self, image_id: str, scope: LibraryScope | None = None) -> Path:
        """The file of a library image (generation refs by `id`, /image, /thumb); NotFoundError
        otherwise, also for an image outside the caller's `scope` (ids do not leak)."""
        return library_image_path(self.store, self.images_root, image_id, scope)

    def _count(self, name: str) -> int:
        if not self.store.exists():
            return 0
        return self.store.count(tenant_filter(name))

    def _view(self, record: LibraryRecord, scope: LibraryScope) -> LibraryView:
        return LibraryView(
            name=record.name,
            owner=record.owner,
            visibility=record.visibility,
            default=record.name == self.default_library,
            writable=scope.can_write(record.name),
            images=self._count(record.name),
            created_at=record.created_at,
        )

    def _record(self, scope: LibraryScope, name: str) -> LibraryRecord:
        """The record of a library the caller can see; an operator also sees libraries that
        hold points but were never registered (written before records existed, or by the CLI)."""
        scope.check_library_visible(name)
        record = self.registry.get(name)
        if record is None and scope.principal.is_operator and self._count(name) > 0:
            record = LibraryRecord(name, None, "private")
        if record is None:
            raise NotFoundError(f"no library {name!r}.", library=name)
        return record

    # --- the requests ---------------------------------------------------------------------
    def create(self, scope: LibraryScope, body: CreateLibrary) -> LibraryView:
        principal = scope.principal
        if principal.is_operator:
            owner = body.owner
        else:
            if body.owner not in (None, principal.owner):
                raise ForbiddenError(f"`owner`: this key creates libraries for {principal.owner!r} only.")
            owner = principal.owner
            # Registering a name that already holds points would hand those images to the caller.
            if self._count(body.name) > 0:
                raise ConflictError(f"library {body.name!r} already exists; pick another name.", library=body.name)
        record = self.registry.create(body.name, owner, body.visibility)
        return self._view(record, self.scope_for(principal))

    def register_import_target(self, scope: LibraryScope, name: str) -> None:
        """After an import into `name` was queued (the caller ran `scope.check_write`): a name
        with no record yet (only an operator may write one) is registered, private, owned by the
        operators, so it is listed like one made with POST /libraries rather than holding points
        no list shows."""
        if name != self.default_library and self.registry.get(name) is None:
            try:
                self.registry.create(name, scope.principal.owner, "private")
            except ConflictError:  # a concurrent import registered it first
                pass

    def list(self, scope: LibraryScope) -> LibraryList:
        owner = scope.principal.owner
        records = self.registry.all() if owner is None else self.registry.visible_to(owner)
        return LibraryList(libraries=[self._view(r, scope) for r in records])

    def check_exists(self, scope: LibraryScope, name: str) -> str:
        """`name`, when it is a library the caller can read; NotFoundError otherwise."""
        return self._record(scope, name).name

    def get(self, scope: LibraryScope, name: str) -> LibraryView:
        return self._view(self._record(scope, name), scope)

    def delete(self, scope: LibraryScope, name: str, importing: Sequence[str] = ()) -> DeletedLibrary:
        """Its points (by the tenant filter), their thumbnails and owned files, then the record.
        `importing`: the import jobs queued or running into it; while there are any it is kept
        (409), as they would write points after the delete into a library no list shows."""
        if name == self.default_library:
            raise ConflictError(f"library {name!r} is the default library (DEFAULT_LIBRARY); it cannot be deleted.")
        self._record(scope, name)
        scope.check_write(name)
        if importing:
            raise ConflictError(
                f"library {name!r} has import jobs queued or running ({', '.join(importing)}); cancel them "
                "(DELETE /jobs/{id}) or let them finish, then delete it.",
                library=name,
                jobs=list(importing),
            )
        deleted = delete_library_points(self.store, self.thumbs, self.images_root, name)
        self.registry.delete(name)
        # What imports staged for it and no point uses: a killed import's files too. No grace
        # period: the library is gone, so no import into it is worth keeping files for.
        sweep_staged(self.store, self.images_root, grace_s=0, libraries=[name])
        self.profiles.forget_library(name)
        return deleted


def library_image_path(store: VectorStore, images_root: Path, image_id: str, scope: LibraryScope | None = None) -> Path:
    """`Libraries.image_path` without the service (`clippy generate` resolves refs by id with it)."""
    try:
        image_id = str(uuid.UUID(image_id))
    except ValueError:
        raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id) from None
    found = store.retrieve([image_id])
    if not found:
        raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id)
    if scope is not None:
        scope.check_read(found[0].payload, image_id)
    try:
        return safe_join(images_root, Payload.read(found[0].payload).path or "")
    # safe_join's messages quote the path; a stored path is the server's layout, not the
    # caller's input, so the answer names the image only.
    except ForbiddenError:
        raise ForbiddenError(f"the file of image {image_id} is outside the images root.", id=image_id) from None
    except NotFoundError:
        raise NotFoundError(f"the file of image {image_id} is missing.", id=image_id) from None
