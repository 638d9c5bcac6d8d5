"""The seam between where events come from and what becomes of them.

A source (an Event Hubs hub: the usage hub, and APIM's LLM-log hub when configured) drives a `PartitionSink` with
ordered events per partition and takes checkpoints back. A decoder turns an event body into completed records,
`llm_log` rows or dead letters (the reassembler for chunk envelopes, consumer/llm_log.py for diagnostic documents).
The lake writer sees neither: it only gets tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from consumer.outputs import Output
from schemas.reassembler import EventMeta


class SourceEvent(NamedTuple):
    """One event of a partition, in stream order (a named tuple: one is made per event)."""

    body: bytes
    sequence_number: int
    offset: str
    enqueued_time: datetime
    partition_key: str | None = None
    """The message's partition key, when it has one: the reassembler rejects an envelope whose record_id differs."""


class Position(NamedTuple):
    """A point in a partition; a checkpoint at a position means "resume after it"."""

    sequence_number: int
    offset: str


class PartitionSink(Protocol):
    async def open_partition(self, partition: str, start: Position | None) -> None: ...

    async def on_events(self, partition: str, events: Sequence[SourceEvent]) -> None: ...

    async def on_idle(self, partition: str) -> None: ...

    async def close_partition(self, partition: str, *, flush: bool) -> None: ...

    async def drain(self) -> None:
        """Flush and checkpoint everything held, before the source closes its partitions."""
        ...


class EventSource(Protocol):
    name: str
    """Names the stream in lake file names (for Event Hubs: the hub)."""

    async def run(self, sink: PartitionSink, stop: asyncio.Event) -> None:
        """Deliver events until `stop` is set, then close every partition (flushing) and return."""
        ...

    async def checkpoint(self, partition: str, position: Position) -> None: ...


class Decoder(Protocol):
    """`schemas.reassembler.Reassembler` is the decoder of the chunk-envelope contract."""

    pending_bytes: int

    def feed(self, body: bytes, meta: EventMeta) -> Sequence[Output]: ...

    def feed_many(self, bodies: Sequence[bytes], metas: Sequence[EventMeta]) -> Sequence[Sequence[Output]]:
        """`feed` of each event in order, in one call; one list of outputs per event."""
        ...

    def low_watermark(self, partition: str) -> int | None: ...

    def forget_partition(self, partition: str) -> None: ...

    def restore_finished(self, partition: str, records: Iterable[tuple[str, str, int]]) -> None:
        """Records (record_id, kind, last sequence number) already in the lake: ignore their chunks re-read up to
        there (the flush state carries them across restarts)."""
        ...
