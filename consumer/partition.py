"""One partition's path from events to lake files and checkpoints (README, "consumer": semantics).

- Output is tagged with the sequence number of the event that produced it; a batch is cut after an event when the
  rotation policy says so (rows, bytes, event time), on idle, and on shutdown.
- A flush writes the flush state's `pending_through` (write-ahead), the files, then `flushed_through`, then
  checkpoints the event just before the decoder's low watermark: never past the first chunk of the oldest
  incomplete record, and never per event.
- On replay (restart, rebalance) output of events up to `flushed_through` is dropped: its rows are in the lake.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from common.logs import get_logger
from common.redact import describe
from consumer.checkpoint_rule import CheckpointRule, watermark_before
from consumer.flush_state import FlushState, FlushStateStore, moved_on
from consumer.lake_writer import USAGE_SOURCE, LakeWriter, file_stem
from consumer.llm_log import llm_log_tables
from consumer.metrics import ConsumerMetrics
from consumer.outputs import Batch, Output
from consumer.retry import retry_async_forever
from consumer.rotation import RotationPolicy
from consumer.rows import Hour, TableSource, UsageConverter, dead_letter_sources, payload_sources
from consumer.sources import Decoder, Position, SourceEvent
from schemas.reassembler import EventMeta

log = get_logger("consumer.partition")
Checkpointer = Callable[[str, Position], Awaitable[None]]


def _ignore_fatal(exc: BaseException) -> None:
    return None


@dataclass(frozen=True)
class PartitionDeps:
    """What every partition of one consumer shares: the decoder (and its memory cap), where output goes, how it
    is cut, converted and counted, and whom to tell when a partition fails for good."""

    hub: str
    decoder: Decoder
    writer: LakeWriter
    states: FlushStateStore
    checkpoint: Checkpointer
    policy: RotationPolicy
    usage_converter: UsageConverter
    metrics: ConsumerMetrics
    on_fatal: Callable[[BaseException], None] = _ignore_fatal
    source: str = USAGE_SOURCE
    """Which source this is (`usage`, or `llm_log` for APIM's LLM logs): the first part of every file name."""


class PartitionProcessor:
    def __init__(self, partition: str, deps: PartitionDeps) -> None:
        self.partition = partition
        self.deps = deps
        self.failed: BaseException | None = None
        self.state = FlushState()
        self.batch = Batch(partition)
        self.last: Position | None = None
        self.rule = CheckpointRule()
        self.caught_up = False
        """No events arrived within the idle interval since the last batch (logged once per idle spell)."""
        self._lock = asyncio.Lock()
        """One operation at a time: the source's handler, an idle flush and a shutdown drain may overlap."""
        self.closed = False

    @property
    def checkpointed(self) -> int | None:
        """The sequence number of the last checkpoint written or found at open (None: none)."""
        return self.rule.committed

    @property
    def dirty(self) -> bool:
        """Output not yet durably in the lake (a batch, or a flush still writing)."""
        return not self.batch.empty or self._lock.locked()

    async def open(self, start: Position | None) -> None:
        self.deps.decoder.forget_partition(self.partition)
        self.state = await self.deps.states.load(self.partition, self.deps.metrics.record_storage_failure)
        self.last = start
        self.rule = CheckpointRule(start.sequence_number if start else None, self.state.finished)
        self.deps.decoder.restore_finished(self.partition, [(r.record_id, r.kind, r.last) for r in self.state.finished])
        # The processed position is known from here on: a partition opened at its last event is caught up.
        self.deps.metrics.record_position(self.partition, start.sequence_number if start else -1)
        log.info(
            "partition_opened",
            partition=self.partition,
            start=start.sequence_number if start else None,
            flushed_through=self.state.flushed_through,
            pending_through=self.state.pending_through,
        )

    async def on_events(self, events: Sequence[SourceEvent]) -> None:
        """Feed events in order. An unexpected error stops this partition for good (fail-stop): skipping events
        would lose them, so the process is asked to exit and its successor replays from the checkpoint."""
        async with self._lock:
            if self.failed is not None or self.closed:
                return
            try:
                await self._on_events(events)
            except Exception as exc:
                self._fail(exc)
                raise

    def _fail(self, exc: BaseException) -> None:
        self.failed = exc
        log.error("partition_failed", partition=self.partition, error=describe(exc))
        self.deps.on_fatal(exc)

    async def _on_events(self, events: Sequence[SourceEvent]) -> None:
        fresh: list[SourceEvent] = []
        last = self.last
        read = self.rule.read
        for event in events:
            seq = event.sequence_number
            if last is not None:
                if seq <= last.sequence_number:
                    continue  # never feed an event twice in one session
                read(seq, last)
            last = Position(seq, event.offset)
            fresh.append(event)
        self.last = last
        partition = self.partition
        outputs = self.deps.decoder.feed_many(
            [event.body for event in fresh],
            [EventMeta(partition, e.sequence_number, e.offset, e.enqueued_time, e.partition_key) for e in fresh],
        )
        final = len(fresh) - 1
        should_cut = self.deps.policy.should_cut
        flushed, pending = self.state.flushed_through, self.state.pending_through
        batch = self.batch
        finish = self.rule.finish
        for index, (event, produced) in enumerate(zip(fresh, outputs, strict=True)):
            seq = event.sequence_number
            if flushed is not None and seq <= flushed:
                continue  # replay of events whose output is already in the lake
            if produced:
                finish(seq, produced)
            batch.add_event(seq, event.enqueued_time, produced)
            if (pending is not None and seq >= pending) or should_cut(batch):
                if index == final:
                    await self._flush()
                else:
                    # The decoder has already read past this event: checkpoint no further than it could have here.
                    await self._flush(as_of=(Position(seq, event.offset), self._watermark_before(outputs[index + 1 :])))
                flushed, pending = self.state.flushed_through, self.state.pending_through
                batch = self.batch
        if events:
            self.deps.metrics.record_events(self.partition, len(events), events[-1].sequence_number)

    def _watermark_before(self, later: Sequence[Sequence[Output]]) -> int | None:
        return watermark_before(self.deps.decoder.low_watermark(self.partition), self.partition, later)

    async def flush(self) -> None:
        """Write what the batch holds, then checkpoint at the watermark."""
        async with self._lock:
            await self._flush_or_fail()

    async def _flush_or_fail(self) -> None:
        if self.failed is not None or self.closed:
            return
        try:
            await self._flush()
        except Exception as exc:
            self._fail(exc)
            raise

    async def _flush(self, as_of: tuple[Position, int | None] | None = None) -> None:
        """`as_of`: the last event of the flush and the decoder's watermark then, when it has read further."""
        if not self.batch.empty:
            await self._reconcile()
        while not self.batch.empty:
            pending = self.state.pending_through
            if pending is not None and pending > self.batch.last_sequence:
                break  # a cut already announced (by a crashed run or another owner) lies ahead: wait for it
            cut = self.batch.last_sequence if pending is None else pending
            head, self.batch = self.batch.split(cut)
            if not head.empty:
                await self._write(head)
            else:
                self.state = FlushState(cut, None, self.state.finished)
        if as_of is None:
            await self._advance_checkpoint(self.last, self.deps.decoder.low_watermark(self.partition))
        else:
            await self._advance_checkpoint(*as_of)

    async def close(self, *, flush: bool) -> None:
        """Flush (shutdown) or drop (ownership lost) what is held; afterwards events are ignored."""
        async with self._lock:
            try:
                if flush:
                    await self._flush_or_fail()
            finally:
                self.closed = True
                self.deps.decoder.forget_partition(self.partition)
                self.batch = Batch(self.partition)
                self.rule.reset()

    # -- internals -------------------------------------------------------------------------------------------
    async def _reconcile(self) -> None:
        """Adopt the stored state if another process flushed (or announced a flush of) this partition meanwhile.

        During a rebalance two owners may briefly read the same events; whoever announces a cut first makes the
        other cut at the same event, so both write the same files. The window between reading the state and
        announcing is not closed by a conditional write: the aggregator's `record_id` dedup covers it.
        """
        stored = await self.deps.states.load(self.partition, self.deps.metrics.record_storage_failure)
        if stored == self.state:
            return
        ours, theirs = self.state.flushed_through, stored.flushed_through
        if moved_on(self.state, stored):
            log.warning(
                "flush_state_moved",
                partition=self.partition,
                ours=ours,
                theirs=theirs,
                pending=stored.pending_through,
            )
            if theirs is not None:
                _, self.batch = self.batch.split(theirs)
            self.rule.adopt(stored.finished)
            self.state = stored

    async def _write(self, batch: Batch) -> None:
        started = time.perf_counter()
        first, last = batch.first_sequence, batch.last_sequence
        if self.state.pending_through != last:
            announced = FlushState(self.state.flushed_through, last, self.state.finished)
            await self.deps.states.save(self.partition, announced, self.deps.metrics.record_storage_failure)
        # Validation and Arrow conversion in a worker thread: Arrow's JSON reader releases the GIL, so with a second
        # core the event loop keeps decoding other partitions' events meanwhile.
        tables, dead = await asyncio.to_thread(self._tables, batch)
        written = await self.deps.writer.write(
            tables,
            file_stem(self.deps.source, self.deps.hub, self.partition, first, last),
            on_failure=self.deps.metrics.record_storage_failure,
        )
        self.state = FlushState(last, None, self.rule.straddling(last))
        await self.deps.states.save(self.partition, self.state, self.deps.metrics.record_storage_failure)
        rows = Counter[str]()
        for item in written:
            rows[item.table] += item.rows
        self.deps.metrics.record_flush(rows, dead, time.perf_counter() - started)
        log.info(
            "batch_flushed",
            partition=self.partition,
            first=first,
            last=last,
            files=len(written),
            rows=dict(rows),
            seconds=round(time.perf_counter() - started, 3),
        )

    def _tables(self, batch: Batch) -> tuple[dict[str, dict[Hour, TableSource]], Counter[str]]:
        usage, rejected = self.deps.usage_converter([record for _, record in batch.usage])
        letters = [letter for _, letter in batch.dead_letters]
        # Validation rejections are dead letters of the event that completed the record: keep stream order.
        letters.extend(rejected)
        payloads, unstorable = payload_sources([record for _, record in batch.bodies])
        letters.extend(unstorable)
        logs, unstorable_logs = llm_log_tables([row for _, row in batch.llm_log]) if batch.llm_log else ({}, [])
        letters.extend(unstorable_logs)
        dead = Counter(letter.reason.value for letter in letters)
        tables: dict[str, dict[Hour, TableSource]] = {
            "usage": dict(usage),
            "payloads": payloads,
            "llm_log": dict(logs),
            "dead_letters": dead_letter_sources(letters),
        }
        return tables, dead

    async def _advance_checkpoint(self, last: Position | None, watermark: int | None) -> None:
        """Checkpoint where the rule says (consumer/checkpoint_rule.py), retried until storage takes it."""
        target = self.rule.target(last, watermark, self.state.flushed_through)
        if target is None:
            return
        await retry_async_forever(
            lambda: self.deps.checkpoint(self.partition, target), on_failure=self.deps.metrics.record_storage_failure
        )
        self.rule.commit(target)
