"""What one flush writes: rows of the three stream tables, each tagged with the event whose arrival produced it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.deadletter import DeadLetterRecord
from schemas.envelope import RecordKind
from schemas.reassembler import CompletedRecord

Output = CompletedRecord | DeadLetterRecord


def output_bytes(item: Output) -> int:
    return len(item.payload) if isinstance(item, CompletedRecord) else len(item.raw_body) + len(item.detail)


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

    def add_event(self, sequence_number: int, enqueued_time: datetime, outputs: list[Output]) -> None:
        self.events.append((sequence_number, enqueued_time))
        self.rows += len(outputs)
        for item in outputs:
            self.bytes += output_bytes(item)
            if isinstance(item, DeadLetterRecord):
                self.dead_letters.append((sequence_number, item))
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
            part.bytes = sum(output_bytes(i) for _, i in (*part.usage, *part.bodies, *part.dead_letters))
            part.rows = len(part.usage) + len(part.bodies) + len(part.dead_letters)
        return head, tail
