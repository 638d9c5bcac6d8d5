"""A file-based implementation of the SDK's `CheckpointStore`: the default when the checkpoint URL is a path.

Layout mirrors the Blob store (`<ns>/<hub>/<cg>/ownership/<partition>` and `.../checkpoint/<partition>`), one JSON
file each, replaced atomically. Claims are compare-and-swap on an etag under an exclusive `flock` of the consumer
group's lock file, so several processes on one machine (or one POSIX file system) balance partitions safely.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from azure.eventhub.aio import CheckpointStore


def _write_atomic(path: Path, obj: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(obj, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


class FileCheckpointStore(CheckpointStore):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _group(self, namespace: str, hub: str, consumer_group: str) -> Path:
        return self.root / namespace.lower() / hub.lower() / consumer_group.lower()

    @contextmanager
    def _locked(self, group: Path) -> Iterator[None]:
        group.mkdir(parents=True, exist_ok=True)
        with open(group / ".lock", "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    # -- ownership -------------------------------------------------------------------------------------------
    def _stored(self, namespace: str, hub: str, consumer_group: str, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """(partition id, stored document) of every readable file under `kind` ("ownership" or "checkpoint")."""
        directory = self._group(namespace, hub, consumer_group) / kind
        if not directory.is_dir():
            return []
        found = []
        for path in sorted(directory.iterdir()):
            if path.name.startswith("."):
                continue
            stored = _read(path)
            if stored is not None:
                found.append((path.name, stored))
        return found

    def _list_ownership(self, namespace: str, hub: str, consumer_group: str) -> list[dict[str, Any]]:
        where = {"fully_qualified_namespace": namespace, "eventhub_name": hub, "consumer_group": consumer_group}
        return [
            where
            | {
                "partition_id": partition,
                "owner_id": stored["owner_id"],
                "etag": stored["etag"],
                "last_modified_time": stored["last_modified_time"],
            }
            for partition, stored in self._stored(namespace, hub, consumer_group, "ownership")
        ]

    def _claim(self, ownership_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
        claimed = []
        by_group: dict[Path, list[dict[str, Any]]] = {}
        for ownership in ownership_list:
            group = self._group(
                ownership["fully_qualified_namespace"], ownership["eventhub_name"], ownership["consumer_group"]
            )
            by_group.setdefault(group, []).append(ownership)
        for group, items in by_group.items():
            with self._locked(group):
                for ownership in items:
                    path = group / "ownership" / ownership["partition_id"]
                    current = _read(path)
                    expected = ownership.get("etag")
                    if (current is None and expected) or (current is not None and current["etag"] != expected):
                        continue  # somebody else changed it since the caller listed: the claim is lost
                    updated = dict(ownership)
                    updated["etag"] = uuid.uuid4().hex
                    updated["last_modified_time"] = time.time()
                    _write_atomic(
                        path,
                        {
                            "owner_id": updated["owner_id"],
                            "etag": updated["etag"],
                            "last_modified_time": updated["last_modified_time"],
                        },
                    )
                    claimed.append(updated)
        return claimed

    # -- checkpoints -----------------------------------------------------------------------------------------
    def _update_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        group = self._group(
            checkpoint["fully_qualified_namespace"], checkpoint["eventhub_name"], checkpoint["consumer_group"]
        )
        _write_atomic(
            group / "checkpoint" / str(checkpoint["partition_id"]),
            {"offset": str(checkpoint["offset"]), "sequence_number": int(checkpoint["sequence_number"])},
        )

    def _list_checkpoints(self, namespace: str, hub: str, consumer_group: str) -> list[dict[str, Any]]:
        where = {"fully_qualified_namespace": namespace, "eventhub_name": hub, "consumer_group": consumer_group}
        return [
            where
            | {"partition_id": partition, "offset": stored["offset"], "sequence_number": stored["sequence_number"]}
            for partition, stored in self._stored(namespace, hub, consumer_group, "checkpoint")
        ]

    # -- the SDK's interface ---------------------------------------------------------------------------------
    async def list_ownership(
        self, fully_qualified_namespace: str, eventhub_name: str, consumer_group: str, **kwargs: Any
    ) -> Iterable[dict[str, Any]]:
        return await asyncio.to_thread(self._list_ownership, fully_qualified_namespace, eventhub_name, consumer_group)

    async def claim_ownership(
        self, ownership_list: Iterable[dict[str, Any]], **kwargs: Any
    ) -> Iterable[dict[str, Any]]:
        return await asyncio.to_thread(self._claim, list(ownership_list))

    async def update_checkpoint(self, checkpoint: dict[str, Any], **kwargs: Any) -> None:
        await asyncio.to_thread(self._update_checkpoint, checkpoint)

    async def list_checkpoints(
        self, fully_qualified_namespace: str, eventhub_name: str, consumer_group: str, **kwargs: Any
    ) -> Iterable[dict[str, Any]]:
        return await asyncio.to_thread(self._list_checkpoints, fully_qualified_namespace, eventhub_name, consumer_group)

    async def close(self) -> None:
        return None
