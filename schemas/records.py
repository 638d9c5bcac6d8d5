"""From a completed record's payload to the typed rows of the lake (usage and payload records)."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from pydantic import ValidationError

from schemas.deadletter import DeadLetterReason, DeadLetterRecord
from schemas.envelope import RecordKind
from schemas.payload import BodyPart, PayloadRecord
from schemas.reassembler import CompletedRecord, reject
from schemas.usage import UsageRecord


def record_rejection(record: CompletedRecord, reason: DeadLetterReason, detail: str) -> DeadLetterRecord:
    """A dead letter for a whole record, at its first chunk's coordinates, carrying the (bounded) payload."""
    return reject(reason, detail, record.first, record.payload, record.record_id, record.kind.value)


def explain_validation_error(exc: ValidationError) -> str:
    """'field: why; field: why' naming every failing field (nested paths dotted)."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def decode_usage(record: CompletedRecord) -> UsageRecord | DeadLetterRecord:
    if record.kind is not RecordKind.USAGE:
        raise ValueError(f"decode_usage needs a usage record, got {record.kind.value}")
    if record.truncated:
        return record_rejection(
            record,
            DeadLetterReason.RECORD_TRUNCATED,
            f"usage record cut by the producer at {len(record.payload)} of {record.original_bytes} bytes",
        )
    try:
        obj = json.loads(record.payload)
    except RecursionError:
        return record_rejection(
            record,
            DeadLetterReason.RECORD_INVALID,
            "record: JSON nested deeper than this consumer parses (a deeply nested unknown member?)",
        )
    except ValueError as exc:
        return record_rejection(record, DeadLetterReason.RECORD_NOT_JSON, f"usage payload is not JSON: {exc}")
    if type(obj) is not dict:
        return record_rejection(
            record,
            DeadLetterReason.RECORD_NOT_JSON,
            f"usage payload is a JSON {type(obj).__name__}, not an object",
        )
    try:
        usage = UsageRecord.model_validate(obj)
    except ValidationError as exc:
        return record_rejection(record, DeadLetterReason.RECORD_INVALID, explain_validation_error(exc))
    if usage.record_id != record.record_id:
        return record_rejection(
            record,
            DeadLetterReason.RECORD_INVALID,
            f"record_id: {usage.record_id!r} differs from the envelope's {record.record_id!r}",
        )
    return usage


def _text_or_base64(payload: bytes, truncated: bool) -> tuple[str, str]:
    try:
        return payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        # A cut at the byte limit may split the last character: keep the text, drop the partial character.
        if truncated and exc.start >= len(payload) - 3 and exc.reason == "unexpected end of data":
            try:
                return payload[: exc.start].decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                pass
        return base64.b64encode(payload).decode("ascii"), "base64"


def to_payload_record(record: CompletedRecord) -> PayloadRecord:
    if record.kind is RecordKind.USAGE:
        raise ValueError("to_payload_record needs a body record")
    body, encoding = _text_or_base64(record.payload, record.truncated)
    return PayloadRecord(
        record_id=record.record_id,
        part=BodyPart.REQUEST if record.kind is RecordKind.REQUEST_BODY else BodyPart.RESPONSE,
        event_time=datetime.fromisoformat(record.emitted_at[:26] + "+00:00"),
        content_type=record.content_type,
        body=body,
        body_encoding=encoding,
        truncated=record.truncated,
        original_bytes=record.original_bytes,
        captured_bytes=len(record.payload),
    )
