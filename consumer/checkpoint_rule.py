"""Where one partition's checkpoint may go: a pure state machine (no I/O, no clock), tested on its own.

The rule (README, "How it avoids losing or doubling a record"): checkpoint the event just before the first chunk
of the oldest record still incomplete (the decoder's low watermark), or the last event read when nothing is
pending; never past what is flushed; never backwards; never twice at the same place.

It also remembers the multi-chunk records finished (completed, or dead-lettered as a whole) whose chunks may lie on
both sides of a checkpoint. After a restart the partition is re-read from the checkpoint, so such a record's later
chunks come back without its first one: the flush state carries these records (`FinishedRecord`) so the decoder
ignores the re-read chunks instead of holding them as a new incomplete record (which would pin the checkpoint and
end as spurious `incomplete_expired` dead letters for a record that is in the lake).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from consumer.outputs import Output
from consumer.sources import Position
from schemas.deadletter import DeadLetterRecord
from schemas.reassembler import CompletedRecord

MAX_FINISHED = 10_000
"""How many straddling records a flush state remembers (the newest). Each is a multi-chunk record finished while
an older record was still incomplete; beyond this a restart may dead-letter the re-read tail of the oldest."""


class FinishedRecord(NamedTuple):
    """A multi-chunk record already in the lake (as rows or dead letters), by the sequence numbers of its chunks."""

    record_id: str
    kind: str
    first: int
    last: int


def finished_records(outputs: Sequence[Output]) -> list[FinishedRecord]:
    """The multi-chunk records one event's outputs finish: a completed record spanning several events, or the
    dead letters of one record at several events (expired, evicted, failed verification)."""
    found: list[FinishedRecord] = []
    spans: dict[tuple[str, str], tuple[int, int]] = {}
    for item in outputs:
        if isinstance(item, CompletedRecord):
            if item.first.sequence_number < item.last_sequence_number:
                found.append(
                    FinishedRecord(
                        item.record_id, item.kind.value, item.first.sequence_number, item.last_sequence_number
                    )
                )
        elif isinstance(item, DeadLetterRecord) and item.record_id is not None and item.kind is not None:
            key = (item.record_id, item.kind)
            low, high = spans.get(key, (item.sequence_number, item.sequence_number))
            spans[key] = (min(low, item.sequence_number), max(high, item.sequence_number))
    found.extend(FinishedRecord(rid, kind, low, high) for (rid, kind), (low, high) in spans.items() if low < high)
    return found


def watermark_before(watermark: int | None, partition: str, later: Sequence[Sequence[Output]]) -> int | None:
    """The decoder's low watermark as it was before the events that produced `later`, given `watermark` now:
    every record pending then is either pending now or was completed or dead-lettered since, with its first chunk
    in that output."""
    for produced in later:
        for item in produced:
            if isinstance(item, CompletedRecord):
                where, seq = item.first.partition, item.first.sequence_number
            elif isinstance(item, DeadLetterRecord):
                where, seq = item.partition, item.sequence_number
            else:
                continue  # an LLM-log row is complete on arrival: it was never pending
            if where == partition and (watermark is None or seq < watermark):
                watermark = seq
    return watermark


class CheckpointRule:
    """One partition's checkpoint decisions. Feed it what was read (`read`), what finished (`finish`), ask it
    where to checkpoint (`target`), tell it what was committed (`commit`)."""

    def __init__(self, committed: int | None = None, finished: Iterable[FinishedRecord] = ()) -> None:
        self.committed = committed
        """The sequence number of the last checkpoint written (None: none yet)."""
        self._predecessor: dict[int, Position] = {}
        """sequence number -> the event before it, for events the low watermark may still point at."""
        self._finished: list[tuple[int, FinishedRecord]] = [(-1, record) for record in finished]
        """(the event that finished it, the record), oldest first; loaded ones count as finished long ago."""

    def read(self, sequence_number: int, previous: Position) -> None:
        """An event was read right after `previous`."""
        self._predecessor[sequence_number] = previous

    def finish(self, produced_at: int, outputs: Sequence[Output]) -> None:
        """Event `produced_at` produced `outputs`: remember the multi-chunk records they finish."""
        for record in finished_records(outputs):
            self._finished.append((produced_at, record))
        if len(self._finished) > 2 * MAX_FINISHED:
            del self._finished[:-MAX_FINISHED]

    def target(self, last: Position | None, watermark: int | None, flushed: int | None) -> Position | None:
        """Where to checkpoint now, or None to stay: just before `watermark` (the first chunk still needed), or at
        `last` (the last event read) when nothing is pending; never past `flushed`, never at or behind the last
        commit. Forgets the predecessors no later checkpoint can need."""
        if flushed is None or last is None:
            return None
        if watermark is None:
            target = last if last.sequence_number <= flushed else None
            self._predecessor = {seq: pos for seq, pos in self._predecessor.items() if seq > last.sequence_number}
        else:
            target = self._predecessor.get(watermark)
            if self._predecessor and next(iter(self._predecessor)) < watermark:
                self._predecessor = {seq: pos for seq, pos in self._predecessor.items() if seq >= watermark}
        if target is None or target.sequence_number > flushed:
            return None
        if self.committed is not None and target.sequence_number <= self.committed:
            return None
        return target

    def commit(self, position: Position) -> None:
        """The checkpoint at `position` is written: records wholly behind it can never be re-read."""
        self.committed = position.sequence_number
        self._finished = [(at, record) for at, record in self._finished if record.last > position.sequence_number]

    def straddling(self, flushed: int | None) -> tuple[FinishedRecord, ...]:
        """What a flush state written now must carry: the records finished by events up to `flushed` (so in the
        lake) that a restart from the last commit would re-read part of. Relative to the last commit, not the one
        about to be written: a crash between the flush state and the checkpoint restarts from the old one."""
        if flushed is None:
            return ()
        behind = -1 if self.committed is None else self.committed
        kept = [record for at, record in self._finished if at <= flushed and record.last > behind]
        return tuple(kept[-MAX_FINISHED:])

    def adopt(self, finished: Iterable[FinishedRecord]) -> None:
        """Another owner's flush state was adopted: carry its straddling records on as well."""
        known = {record for _, record in self._finished}
        self._finished[:0] = [(-1, record) for record in finished if record not in known]

    def reset(self) -> None:
        self._predecessor.clear()
        self._finished.clear()
