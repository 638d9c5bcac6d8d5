"""Per-partition flush state, kept next to the checkpoints: what of the stream is already in lake files.

The checkpoint can sit behind data already written (an incomplete record holds the watermark back), so after a
restart or a rebalance the consumer re-reads events whose rows are in the lake. `flushed_through` says which:
output produced by events up to that sequence number is skipped on replay. `pending_through` is written before a
batch's files (write-ahead): if the process dies between files and commit, the replay cuts its batch at the same
event and rewrites files of the same names and contents. `finished` lists the multi-chunk records in the lake whose
chunks straddle the checkpoint (consumer/checkpoint_rule.py): their re-read chunks are ignored on replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from consumer.checkpoint_rule import FinishedRecord
from consumer.errors import CheckpointStoreError
from consumer.retry import retry_forever
from schemas.lake import LakeLocation


@dataclass(frozen=True)
class FlushState:
    flushed_through: int | None = None
    pending_through: int | None = None
    finished: tuple[FinishedRecord, ...] = ()

    def to_json(self) -> bytes:
        obj: dict[str, object] = {"flushed_through": self.flushed_through, "pending_through": self.pending_through}
        if self.finished:
            obj["finished"] = [list(record) for record in self.finished]
        return json.dumps(obj, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> FlushState:
        try:
            obj = json.loads(data)
            return cls(
                flushed_through=_opt_int(obj.get("flushed_through")),
                pending_through=_opt_int(obj.get("pending_through")),
                finished=tuple(_finished(item) for item in obj.get("finished") or ()),
            )
        except (ValueError, AttributeError, TypeError) as exc:
            raise CheckpointStoreError(f"unreadable flush state {data[:200]!r}: {exc}") from exc


def _finished(item: object) -> FinishedRecord:
    if not isinstance(item, list) or len(item) != 4:
        raise TypeError(f"{item!r} is not [record_id, kind, first, last]")
    record_id, kind, first, last = item
    if not (isinstance(record_id, str) and isinstance(kind, str)):
        raise TypeError(f"{item!r} is not [record_id, kind, first, last]")
    return FinishedRecord(record_id, kind, _int(first), _int(last))


def _int(value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"{value!r} is not an integer")
    return value


def _opt_int(value: object) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise TypeError(f"{value!r} is not an integer")
    return value


class FlushStateStore:
    """One small JSON object per (namespace, hub, consumer group, partition) under the checkpoint location."""

    def __init__(self, location: LakeLocation, namespace: str, hub: str, consumer_group: str) -> None:
        self.location = location
        self.directory = location.path("flushstate", namespace.lower(), hub.lower(), consumer_group.lower())
        self._created = False

    def _path(self, partition: str) -> str:
        return f"{self.directory}/{partition}.json"

    def load_sync(self, partition: str) -> FlushState:
        fs = self.location.filesystem
        try:
            with fs.open_input_stream(self._path(partition)) as stream:
                data = stream.read()
        except FileNotFoundError:
            return FlushState()
        if not data:
            raise OSError(f"flush state of partition {partition} is being written: retrying")
        return FlushState.from_json(data)

    def save_sync(self, partition: str, state: FlushState) -> None:
        fs = self.location.filesystem
        if not self._created:
            fs.create_dir(self.directory, recursive=True)
            self._created = True
        self.location.write_bytes(state.to_json(), self._path(partition))

    async def load(self, partition: str, on_failure: Callable[[], None] | None = None) -> FlushState:
        return await retry_forever(lambda: self.load_sync(partition), on_failure=on_failure)

    async def save(self, partition: str, state: FlushState, on_failure: Callable[[], None] | None = None) -> None:
        await retry_forever(lambda: self.save_sync(partition, state), on_failure=on_failure)
