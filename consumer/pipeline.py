"""The partition sink: one `PartitionProcessor` per owned partition, sharing one decoder (and its memory cap)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from common.logs import get_logger
from consumer.partition import PartitionDeps, PartitionProcessor
from consumer.sources import Position, SourceEvent

log = get_logger("consumer.pipeline")


class Pipeline:
    def __init__(self, deps: PartitionDeps) -> None:
        self.deps = deps
        self.partitions: dict[str, PartitionProcessor] = {}
        deps.metrics.stats.pending_bytes = lambda: deps.decoder.pending_bytes

    @property
    def dirty(self) -> bool:
        return any(p.dirty for p in self.partitions.values())

    async def open_partition(self, partition: str, start: Position | None) -> None:
        processor = PartitionProcessor(partition, self.deps)
        self.partitions[partition] = processor
        await processor.open(start)

    async def on_events(self, partition: str, events: Sequence[SourceEvent]) -> None:
        processor = self.partitions[partition]
        processor.caught_up = False
        await processor.on_events(events)

    async def on_idle(self, partition: str) -> None:
        processor = self.partitions.get(partition)
        if processor is not None:
            if not processor.caught_up:
                processor.caught_up = True
                last = processor.last.sequence_number if processor.last else None
                log.info("partition_caught_up", partition=partition, last_sequence=last)
            await processor.flush()

    async def drain(self) -> None:
        """Shutdown: flush and checkpoint every owned partition, then ignore further events (they are re-read by
        whoever owns the partition next: nothing after the last checkpoint is lost)."""
        await asyncio.gather(*(p.close(flush=True) for p in list(self.partitions.values())))

    async def close_partition(self, partition: str, *, flush: bool) -> None:
        processor = self.partitions.pop(partition, None)
        if processor is not None:
            await processor.close(flush=flush)
            self.deps.metrics.forget_partition(partition)
