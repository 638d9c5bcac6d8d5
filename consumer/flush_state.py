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


def moved_on(ours: FlushState, stored: FlushState) -> bool:
    """Has another owner flushed this partition further than we did, or announced a cut from where we stand?
    Then its state is adopted (we cut where it cut, and drop what it wrote)."""
    mine, theirs = ours.flushed_through, stored.flushed_through
    ahead = theirs is not None and (mine is None or theirs > mine)
    announced = theirs == mine and stored.pending_through is not None
    return ahead or announced


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
    """One small JSON object per (source, namespace, hub, consumer group, partition) under the checkpoint location:
    `flushstate/<source>/<ns>/<hub>/<cg>/<p>.json`, names lower-cased.

    The usage source's states were once kept without the source (`flushstate/<ns>/<hub>/<cg>/<p>.json`): such a
    state is read when the new one does not exist yet, so an upgraded consumer resumes where the old one flushed
    (without it, every event between the checkpoint and `flushed_through` would be written again). The first save
    writes the new key, which wins from then on. What this cannot cover: an old and a new consumer owning the same
    partition in turn during a rolling upgrade do not see each other's announcements, so one batch may be written
    under both versions' file names; the aggregator's `record_id` dedup covers that, as it covers a rebalance."""

    def __init__(
        self, location: LakeLocation, namespace: str, hub: str, consumer_group: str, source: str = "usage"
    ) -> None:
        self.location = location
        self.source = source
        self.directory = location.path(
            "flushstate", source.lower(), namespace.lower(), hub.lower(), consumer_group.lower()
        )
        self.legacy_directory = (
            location.path("flushstate", namespace.lower(), hub.lower(), consumer_group.lower())
            if source == "usage"
            else None
        )
        self._created = False

    def _path(self, partition: str) -> str:
        return f"{self.directory}/{partition}.json"

    def _read(self, path: str) -> bytes | None:
        try:
            with self.location.filesystem.open_input_stream(path) as stream:
                data: bytes = stream.read()
                return data
        except FileNotFoundError:
            return None

    def load_sync(self, partition: str) -> FlushState:
        data = self._read(self._path(partition))
        if data is None and self.legacy_directory is not None:
            data = self._read(f"{self.legacy_directory}/{partition}.json")
        if data is None:
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
