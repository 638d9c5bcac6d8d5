"""Reference encoder: payload bytes -> chunk envelope bodies (schemas/README.md, sections 2-3).

The APIM policy implements the same algorithm in C#; tests prove the two byte-identical.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.envelope import RECORD_ID_PATTERN, Envelope, RecordKind, sanitize_content_type
from schemas.errors import EncodeError
from schemas.limits import DEFAULT_CHUNK_BYTES, DEFAULT_MAX_CHUNKS, MAX_CHUNK_BYTES, MAX_MESSAGE_BYTES


@dataclass(frozen=True, slots=True)
class ChunkingParams:
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    max_chunks: int = DEFAULT_MAX_CHUNKS

    def __post_init__(self) -> None:
        if self.chunk_bytes <= 0 or self.chunk_bytes % 3 or self.chunk_bytes > MAX_CHUNK_BYTES:
            raise EncodeError(
                f"chunk_bytes must be a positive multiple of 3 up to {MAX_CHUNK_BYTES}, got {self.chunk_bytes}"
            )
        if self.max_chunks < 1:
            raise EncodeError(f"max_chunks must be >= 1, got {self.max_chunks}")

    @property
    def max_record_bytes(self) -> int:
        return self.chunk_bytes * self.max_chunks


def format_emitted_at(moment: datetime) -> str:
    """UTC in .NET's round-trip format with 7 fractional digits, as `DateTime.UtcNow.ToString("o")` prints."""
    if moment.tzinfo is None:
        raise EncodeError("emitted_at must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


def encode(
    record_id: str,
    kind: RecordKind | str,
    payload: bytes,
    *,
    emitted_at: datetime | str,
    content_type: str | None = "application/json",
    params: ChunkingParams | None = None,
) -> list[bytes]:
    """Split one record's payload into envelope bodies, each a complete Event Hubs message."""
    params = params or ChunkingParams()
    if not RECORD_ID_PATTERN.match(record_id):
        raise EncodeError(f"record_id {record_id[:140]!r} does not match {RECORD_ID_PATTERN.pattern}")
    kind = RecordKind(kind)
    stamp = emitted_at if isinstance(emitted_at, str) else format_emitted_at(emitted_at)
    carried = payload[: params.max_record_bytes]
    total = len(carried)
    digest = hashlib.sha256(carried).hexdigest()
    encoded = base64.b64encode(carried).decode("ascii")
    count = max(1, -(-total // params.chunk_bytes))
    step = params.chunk_bytes // 3 * 4
    ctype = sanitize_content_type(content_type)
    bodies = []
    for index in range(count):
        body = Envelope(
            record_id=record_id,
            kind=kind,
            chunk_index=index,
            chunk_count=count,
            total_bytes=total,
            original_bytes=len(payload),
            sha256=digest,
            content_type=ctype,
            emitted_at=stamp,
            data=encoded[index * step : (index + 1) * step],
        ).to_json()
        if len(body) > MAX_MESSAGE_BYTES:
            raise EncodeError(f"envelope of {len(body)} bytes exceeds {MAX_MESSAGE_BYTES}")
        bodies.append(body)
    return bodies
