"""Dead letters: every input the consumer could not turn into a row, with a reason and enough to replay it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, overload

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.limits import DEAD_LETTER_RAW_BYTES


class DeadLetterReason(StrEnum):
    ENVELOPE_NOT_JSON = "envelope_not_json"
    MESSAGE_TRUNCATED = "message_truncated"
    ENVELOPE_INVALID = "envelope_invalid"
    UNKNOWN_VERSION = "unknown_version"
    BAD_BASE64 = "bad_base64"
    CHUNK_LENGTH_MISMATCH = "chunk_length_mismatch"
    INCONSISTENT_CHUNK = "inconsistent_chunk"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    PENDING_BYTES_EXCEEDED = "pending_bytes_exceeded"
    RECORD_TOO_LARGE = "record_too_large"
    RECORD_TRUNCATED = "record_truncated"
    RECORD_NOT_JSON = "record_not_json"
    RECORD_INVALID = "record_invalid"
    LLM_LOG_NOT_JSON = "llm_log_not_json"
    LLM_LOG_INVALID = "llm_log_invalid"


class DeadLetterRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: DeadLetterReason
    detail: Annotated[str, Field(max_length=4096)]
    partition: str
    sequence_number: int
    offset: str
    enqueued_time: AwareDatetime
    record_id: str | None = None
    kind: str | None = None
    raw_body: Annotated[bytes, Field(max_length=DEAD_LETTER_RAW_BYTES)]
    """The first bytes of the offending message (or reassembled payload)."""
    raw_bytes: Annotated[int, Field(ge=0)]
    """The full length of what `raw_body` was cut from."""


MAX_DETAIL_CHARS = 4096
MAX_IDENTITY_CHARS = 256
"""How much of an untrusted `record_id` or `kind` a dead letter keeps."""


@overload
def writable(text: str, limit: int) -> str: ...
@overload
def writable(text: None, limit: int) -> None: ...
@overload
def writable(text: str | None, limit: int) -> str | None: ...


def writable(text: str | None, limit: int) -> str | None:
    """`text` as a dead letter can store it: valid Unicode (a lone surrogate becomes its `\\udXXX` escape, which
    UTF-8 can encode) and at most `limit` characters. Dead letters are the last resort: they must always write."""
    if text is None:
        return None
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:limit]


def dead_letter(
    reason: DeadLetterReason,
    detail: str,
    *,
    partition: str,
    sequence_number: int,
    offset: str,
    enqueued_time: datetime,
    raw: bytes,
    record_id: str | None = None,
    kind: str | None = None,
) -> DeadLetterRecord:
    """The one builder of dead letters: whatever the input held, the row is bounded and encodable."""
    return DeadLetterRecord.model_construct(
        reason=reason,
        detail=writable(detail, MAX_DETAIL_CHARS),
        partition=writable(partition, MAX_IDENTITY_CHARS),
        sequence_number=sequence_number,
        offset=writable(offset, MAX_IDENTITY_CHARS),
        enqueued_time=enqueued_time,
        record_id=writable(record_id, MAX_IDENTITY_CHARS),
        kind=writable(kind, MAX_IDENTITY_CHARS),
        raw_body=bytes(raw[:DEAD_LETTER_RAW_BYTES]),
        raw_bytes=len(raw),
    )
