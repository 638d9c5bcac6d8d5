"""When a partition's batch is cut into files: by rows, bytes and event time, never by wall clock.

Every input to the decision comes from the stream itself, so a replay of the same events cuts at the same
events and rewrites files of the same names and contents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from consumer.outputs import Batch


@dataclass(frozen=True)
class RotationPolicy:
    max_rows: int = 100_000
    max_bytes: int = 16 * 1024 * 1024
    max_event_seconds: float = 300.0
    _max_span: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_max_span", timedelta(seconds=self.max_event_seconds))

    def should_cut(self, batch: Batch) -> bool:
        return batch.rows >= self.max_rows or batch.bytes >= self.max_bytes or batch.event_span >= self._max_span
