"""QDRANT_SHARDS / QDRANT_REPLICAS / QDRANT_WRITE_CONSISTENCY reach the collection Clippy creates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.storage import open_store
from app.storage.remote import RemoteStore
from app.storage.schema import CollectionSchema
from tests.support.settings import tiny_settings


class Recorder:
    """Stands in for QdrantClient: remembers create_collection's arguments."""

    def __init__(self) -> None:
        self.created: dict[str, Any] = {}

    def collection_exists(self, name: str) -> bool:
        return bool(self.created)

    def create_collection(self, name: str, **kwargs: Any) -> None:
        self.created = kwargs

    def create_payload_index(self, *args: Any, **kwargs: Any) -> None:
        pass


def test_the_cluster_layout_is_passed_when_the_collection_is_created() -> None:
    client = Recorder()
    store = RemoteStore(client, "c", shards=6, replicas=2, write_consistency=2)  # type: ignore[arg-type]
    store.create(CollectionSchema(4, 4, {"model": "m"}))
    assert client.created["shard_number"] == 6
    assert client.created["replication_factor"] == 2
    assert client.created["write_consistency_factor"] == 2


def test_without_settings_the_server_defaults_apply(tmp_path: Path) -> None:
    client = Recorder()
    RemoteStore(client, "c").create(CollectionSchema(4, 4, {"model": "m"}))  # type: ignore[arg-type]
    assert not {"shard_number", "replication_factor", "write_consistency_factor"} & set(client.created)
    store = open_store(tiny_settings(tmp_path, QDRANT_URL=":memory:", QDRANT_SHARDS=3, QDRANT_REPLICAS=2))
    assert isinstance(store, RemoteStore) and store.layout == {"shard_number": 3, "replication_factor": 2}
    store.close()
