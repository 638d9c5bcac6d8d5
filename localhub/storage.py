"""Partitions: an append-only list of delivery-ready events per partition, optionally backed by a log file.

Sequence numbers start at 0 and are contiguous (there is no retention). An event's offset is the byte position of
its record in the partition log (the file starts with an 8-byte magic), so offsets differ from sequence numbers
and code that confuses them fails. Enqueued times never go backwards within a partition.
"""

from __future__ import annotations

import bisect
import json
import struct
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from localhub import messages
from localhub.config import HubSpec
from localhub.errors import DataDirError, UnknownEntityError

LOG_MAGIC = b"LHUBLOG1"
_RECORD = struct.Struct(">IqqqH")
"""payload length, sequence number, offset, enqueued time (ms), partition-key length (0xFFFF: no key)."""
_NO_KEY = 0xFFFF


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as the server stored it."""

    sequence_number: int
    offset: int
    enqueued_ms: int
    partition_key: str | None
    message: bytes
    """The delivery-ready encoded AMQP message (broker annotations included)."""

    @property
    def body(self) -> bytes:
        return messages.body_of(self.message)

    @property
    def enqueued_time(self) -> datetime:
        return datetime.fromtimestamp(self.enqueued_ms / 1000, tz=UTC)

    @property
    def offset_str(self) -> str:
        """The offset as the SDK sees it (`EventData.offset` is a string)."""
        return str(self.offset)


@dataclass(frozen=True)
class StartPosition:
    """Where a receiver starts: `field` is 'offset', 'sequence' or 'time'; `value` None means the end."""

    field: str
    value: int | None
    inclusive: bool


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Partition:
    hub: str
    partition_id: str
    events: list[StoredEvent] = field(default_factory=list)
    _offsets: list[int] = field(default_factory=list)
    _times: list[int] = field(default_factory=list)
    _next_offset: int = len(LOG_MAGIC)
    _log: BinaryIO | None = None

    def append(self, encoded: list[bytes], partition_key: str | None) -> list[StoredEvent]:
        """Store client-encoded events (all or none: a malformed one raises before anything is stored)."""
        now = max(_now_ms(), self._times[-1] if self._times else 0)
        key_bytes = b"" if partition_key is None else partition_key.encode("utf-8")
        stored: list[StoredEvent] = []
        records = bytearray()
        offset = self._next_offset
        seq = len(self.events)
        for event in encoded:
            message = messages.stamp(
                event, sequence_number=seq, offset=offset, enqueued_ms=now, partition_key=partition_key
            )
            stored.append(StoredEvent(seq, offset, now, partition_key, message))
            header = _RECORD.pack(len(message), seq, offset, now, _NO_KEY if partition_key is None else len(key_bytes))
            if self._log is not None:
                records += header + key_bytes + message
            offset += len(header) + len(key_bytes) + len(message)
            seq += 1
        if self._log is not None:
            self._log.write(records)
            self._log.flush()
        self._next_offset = offset
        self.events.extend(stored)
        self._offsets.extend(e.offset for e in stored)
        self._times.extend(e.enqueued_ms for e in stored)
        return stored

    def start_index(self, position: StartPosition) -> int:
        """Index of the first event a receiver starting at `position` gets."""
        if position.value is None:
            return len(self.events)
        if position.field == "sequence":
            index = position.value if position.inclusive else position.value + 1
            return min(max(index, 0), len(self.events))
        keys = self._offsets if position.field == "offset" else self._times
        find = bisect.bisect_left if position.inclusive else bisect.bisect_right
        return find(keys, position.value)

    @property
    def last(self) -> StoredEvent | None:
        return self.events[-1] if self.events else None

    def open_log(self, path: Path) -> None:
        """Load the events of an existing log (dropping a torn last record) and keep it open for appends."""
        if path.exists():
            data = path.read_bytes()
            if data[: len(LOG_MAGIC)] != LOG_MAGIC:
                raise DataDirError(f"{path} is not a localhub partition log")
            pos = len(LOG_MAGIC)
            while pos + _RECORD.size <= len(data):
                length, seq, offset, enqueued, key_len = _RECORD.unpack_from(data, pos)
                key_start = pos + _RECORD.size
                key_end = key_start + (0 if key_len == _NO_KEY else key_len)
                end = key_end + length
                if end > len(data) or offset != pos or seq != len(self.events):
                    break
                key = None if key_len == _NO_KEY else data[key_start:key_end].decode("utf-8")
                self.events.append(StoredEvent(seq, offset, enqueued, key, data[key_end:end]))
                self._offsets.append(offset)
                self._times.append(enqueued)
                pos = end
            self._next_offset = pos
            handle = path.open("r+b")
            handle.truncate(pos)
            handle.seek(pos)
        else:
            handle = path.open("wb")
            handle.write(LOG_MAGIC)
            handle.flush()
        self._log = handle

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Hub:
    name: str
    created_ms: int
    partitions: dict[str, Partition]

    @property
    def partition_ids(self) -> list[str]:
        return list(self.partitions)


class Store:
    """Every hub and partition the server serves."""

    def __init__(self, specs: list[HubSpec], data_dir: Path | None = None) -> None:
        self.data_dir = data_dir
        self.hubs: dict[str, Hub] = {}
        for spec in specs:
            created = _now_ms()
            partitions = {str(i): Partition(spec.name, str(i)) for i in range(spec.partitions)}
            if data_dir is not None:
                created = self._open_hub_dir(data_dir / spec.name, spec, created)
                for pid, partition in partitions.items():
                    partition.open_log(data_dir / spec.name / f"partition-{pid}.log")
            self.hubs[spec.name.lower()] = Hub(spec.name, created, partitions)

    @staticmethod
    def _open_hub_dir(directory: Path, spec: HubSpec, created: int) -> int:
        meta_path = directory / "hub.json"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if meta_path.exists():
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                if meta.get("partitions") != spec.partitions:
                    raise DataDirError(
                        f"{directory} holds hub {spec.name!r} with {meta.get('partitions')} partitions, "
                        f"not {spec.partitions}: use the same count or another --data-dir"
                    )
                return int(meta["created_ms"])
            meta_path.write_text(
                json.dumps({"name": spec.name, "partitions": spec.partitions, "created_ms": created}),
                encoding="utf-8",
            )
        except (OSError, ValueError, KeyError) as exc:
            raise DataDirError(f"cannot use data directory {directory}: {exc}") from exc
        return created

    def hub(self, name: str) -> Hub:
        try:
            return self.hubs[name.lower()]
        except KeyError:
            raise UnknownEntityError(
                f"event hub {name!r} does not exist (serving: {', '.join(h.name for h in self.hubs.values())})"
            ) from None

    def partition(self, hub: str, partition_id: str) -> Partition:
        found = self.hub(hub)
        try:
            return found.partitions[partition_id]
        except KeyError:
            raise UnknownEntityError(
                f"partition {partition_id!r} does not exist in event hub {found.name!r} "
                f"(partitions 0..{len(found.partitions) - 1})"
            ) from None

    def close(self) -> None:
        for hub in self.hubs.values():
            for partition in hub.partitions.values():
                partition.close()
