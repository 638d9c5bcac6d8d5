"""What one flush writes: rows of the stream tables, each tagged with the event whose arrival produced it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.deadletter import DeadLetterRecord
from schemas.envelope import RecordKind
from schemas.reassembler import CompletedRecord, EventMeta


@dataclass(frozen=True, slots=True)
class LlmLogRow:
    """One `llm_log` row decoded from an event of the LLM-log hub (consumer/llm_log.py): complete on arrival, so it
    never holds a checkpoint back."""

    values: dict[str, Any]
    """The row's columns (schemas/llm_log.py), without the lineage."""
    meta: EventMeta
    body: bytes
    """The event's body, kept (shared, not copied) to dead-letter the row if it cannot be stored."""
    size: int
    """Its share of the event's bytes, for the rotation policy."""


Output = CompletedRecord | DeadLetterRecord | LlmLogRow


def output_bytes(item: Output) -> int:
    if isinstance(item, CompletedRecord):
        return len(item.payload)
    if isinstance(item, LlmLogRow):
        return item.size
    return len(item.raw_body) + len(item.detail)


@dataclass(slots=True)
class Batch:
    """Everything decoded from a run of consecutive events of one partition, not yet in the lake.

    Usage records stay undecoded until the flush validates them in bulk (rows.py).
    """

    partition: str
    events: list[tuple[int, datetime]] = field(default_factory=list)
    """(sequence number, enqueued time) of every event fed into this batch, in stream order."""
    usage: list[tuple[int, CompletedRecord]] = field(default_factory=list)
    bodies: list[tuple[int, CompletedRecord]] = field(default_factory=list)
    dead_letters: list[tuple[int, DeadLetterRecord]] = field(default_factory=list)
    llm_log: list[tuple[int, LlmLogRow]] = field(default_factory=list)
    bytes: int = 0
    rows: int = 0

    @property
    def empty(self) -> bool:
        return not self.events

    @property
    def first_sequence(self) -> int:
        return self.events[0][0]

    @property
    def last_sequence(self) -> int:
        return self.events[-1][0]

    @property
    def event_span(self) -> timedelta:
        if not self.events:
            return timedelta(0)
        return self.events[-1][1] - self.events[0][1]

    def add_event(self, sequence_number: int, enqueued_time: datetime, outputs: Sequence[Output]) -> None:
        self.events.append((sequence_number, enqueued_time))
        self.rows += len(outputs)
        for item in outputs:
            self.bytes += output_bytes(item)
            if isinstance(item, DeadLetterRecord):
                self.dead_letters.append((sequence_number, item))
            elif isinstance(item, LlmLogRow):
                self.llm_log.append((sequence_number, item))
            else:
                (self.usage if item.kind is RecordKind.USAGE else self.bodies).append((sequence_number, item))

    def split(self, through: int) -> tuple[Batch, Batch]:
        """The part produced by events up to `through`, and the rest."""
        if self.empty or through >= self.last_sequence:
            return self, Batch(self.partition)  # the usual cut: everything (a flush after the batch's last event)
        head, tail = Batch(self.partition), Batch(self.partition)
        for part, keep in ((head, lambda s: s <= through), (tail, lambda s: s > through)):
            part.events = [e for e in self.events if keep(e[0])]
            part.usage = [u for u in self.usage if keep(u[0])]
            part.bodies = [b for b in self.bodies if keep(b[0])]
            part.dead_letters = [d for d in self.dead_letters if keep(d[0])]
            part.llm_log = [r for r in self.llm_log if keep(r[0])]
            held = (*part.usage, *part.bodies, *part.dead_letters, *part.llm_log)
            part.bytes = sum(output_bytes(i) for _, i in held)
            part.rows = len(held)
        return head, tail
