"""The chunk envelope: one Event Hubs message (schemas/README.md, section 2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from schemas import CONTRACT_VERSION
from schemas.limits import MAX_CONTENT_TYPE_CHARS


class RecordKind(StrEnum):
    USAGE = "usage"
    REQUEST_BODY = "request_body"
    RESPONSE_BODY = "response_body"


RECORD_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
EMITTED_AT_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")

ENVELOPE_MEMBERS: tuple[str, ...] = (
    "v",
    "record_id",
    "kind",
    "chunk_index",
    "chunk_count",
    "total_bytes",
    "original_bytes",
    "sha256",
    "encoding",
    "content_type",
    "emitted_at",
    "data",
)


@dataclass(slots=True)
class Envelope:
    """A parsed, structurally valid envelope (the chunk's data is still base64)."""

    record_id: str
    kind: RecordKind
    chunk_index: int
    chunk_count: int
    total_bytes: int
    original_bytes: int
    sha256: str
    content_type: str
    emitted_at: str
    data: str
    v: int = CONTRACT_VERSION
    encoding: str = "base64"

    def to_json(self) -> bytes:
        """The envelope's canonical serialization (schemas/README.md, section 2): fixed member order, no spaces."""
        return (
            f'{{"v":{self.v},"record_id":"{self.record_id}","kind":"{self.kind.value}",'
            f'"chunk_index":{self.chunk_index},"chunk_count":{self.chunk_count},"total_bytes":{self.total_bytes},'
            f'"original_bytes":{self.original_bytes},"sha256":"{self.sha256}","encoding":"{self.encoding}",'
            f'"content_type":"{self.content_type}","emitted_at":"{self.emitted_at}","data":"{self.data}"}}'
        ).encode("ascii")

    @property
    def header(self) -> tuple[int, int, int, str, str]:
        """The members every chunk of one record must agree on."""
        return (self.chunk_count, self.total_bytes, self.original_bytes, self.sha256, self.content_type)


def sanitize_content_type(value: str | None) -> str:
    """Reduce a Content-Type header to what an envelope may carry (printable ASCII, no quote or backslash)."""
    if not value:
        return ""
    kept = "".join(ch for ch in value if " " <= ch <= "~" and ch not in '"\\')
    return kept[:MAX_CONTENT_TYPE_CHARS]
