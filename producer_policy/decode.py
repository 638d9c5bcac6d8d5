"""Decode what the policy emitted with the reference consumer code (schemas/): messages -> records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from producer_policy.harness.exchange import EmittedMessage
from schemas.deadletter import DeadLetterRecord
from schemas.envelope import RecordKind
from schemas.reassembler import CompletedRecord, EventMeta, Reassembler
from schemas.records import decode_usage, to_payload_record


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    kind: str
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Decoded:
    records: list[DecodedRecord]
    dead_letters: list[DeadLetterRecord]
    completed: list[CompletedRecord]


def decode_messages(messages: list[EmittedMessage]) -> Decoded:
    """Feed the messages, in order, to one reassembler as if they sat on one partition."""
    reassembler = Reassembler()
    now = datetime.now(UTC)
    records: list[DecodedRecord] = []
    dead: list[DeadLetterRecord] = []
    completed: list[CompletedRecord] = []
    for seq, message in enumerate(messages):
        meta = EventMeta(
            partition="0", sequence_number=seq, offset=str(seq), enqueued_time=now, partition_key=message.partition_key
        )
        for out in reassembler.feed(message.body.encode("utf-8"), meta):
            if isinstance(out, DeadLetterRecord):
                dead.append(out)
                continue
            completed.append(out)
            if out.kind is RecordKind.USAGE:
                usage = decode_usage(out)
                if isinstance(usage, DeadLetterRecord):
                    dead.append(usage)
                else:
                    records.append(DecodedRecord(out.kind.value, usage.model_dump(mode="json")))
            else:
                records.append(DecodedRecord(out.kind.value, to_payload_record(out).model_dump(mode="json")))
    return Decoded(records=records, dead_letters=dead, completed=completed)
