"""Step 1 of decoding (schemas/README.md, sections 2 and 5): one message body -> a structurally valid `Envelope`,
or a dead letter saying why not. Pure: no state, no I/O.

The canonical serialization of a valid envelope is parsed and validated by one regular expression; anything else
(other member order, white space, a bad value) takes the general path (`json.loads` and a check per member), which
explains what is wrong.
"""

from __future__ import annotations

import binascii
import json
import re
from datetime import datetime
from typing import NamedTuple, TypeGuard

import pybase64

from schemas import CONTRACT_VERSION
from schemas.deadletter import DeadLetterReason, DeadLetterRecord, dead_letter
from schemas.envelope import EMITTED_AT_PATTERN, RECORD_ID_PATTERN, SHA256_PATTERN, Envelope, RecordKind
from schemas.limits import MAX_CONTENT_TYPE_CHARS, TRUNCATION_SUSPECT_BYTES

_KINDS = {kind.value: kind for kind in RecordKind}
_KINDS_BY_BYTES = {kind.value.encode("ascii"): (kind, kind.value) for kind in RecordKind}
"""Envelope `kind` bytes -> (member, its value): `Enum.value` is a slow descriptor on the per-record path."""


class EventMeta(NamedTuple):
    """Where an event sat in the stream. A named tuple: one is made per event, at half a frozen dataclass's cost."""

    partition: str
    sequence_number: int
    offset: str
    enqueued_time: datetime
    partition_key: str | None = None
    """The message's partition key; when known it must equal the envelope's record_id."""


def reject(
    reason: DeadLetterReason,
    detail: str,
    meta: EventMeta,
    raw: bytes,
    record_id: str | None = None,
    kind: str | None = None,
) -> DeadLetterRecord:
    """A dead letter at `meta`'s stream coordinates (`schemas.deadletter.dead_letter`: bounded, always writable)."""
    return dead_letter(
        reason,
        detail,
        partition=meta.partition,
        sequence_number=meta.sequence_number,
        offset=meta.offset,
        enqueued_time=meta.enqueued_time,
        raw=raw,
        record_id=record_id,
        kind=kind,
    )


def _is_int(value: object) -> TypeGuard[int]:
    return type(value) is int


def b64decode_strict(data: bytes | str) -> bytes:
    """Python's strict base64 (`binascii.a2b_base64(strict_mode=True)`), at SIMD speed for what it accepts.

    pybase64 (AVX2) decodes about 4x faster; whatever it accepts, strict mode accepts with the same bytes, and it
    refuses a little more (a pad after a whole quantum), so its refusals go to binascii, which decides and
    explains. `tests/unit/schemas/test_base64.py` holds the two together."""
    try:
        return pybase64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return binascii.a2b_base64(data, strict_mode=True)


# The canonical serialization (section 2) of a valid envelope, parsed and validated by one match; anything else
# (other member order, white space, a bad value) takes the general path, which explains what is wrong.
_CANONICAL_HEADER = (
    rb'\{"v":1,"record_id":"([A-Za-z0-9._:-]{1,128})","kind":"(usage|request_body|response_body)",'
    rb'"chunk_index":(0|[1-9][0-9]{0,8}),"chunk_count":([1-9][0-9]{0,8}),"total_bytes":(0|[1-9][0-9]{0,15}),'
    rb'"original_bytes":(0|[1-9][0-9]{0,15}),"sha256":"([0-9a-f]{64})","encoding":"base64",'
    rb'"content_type":"([ !#-\[\]-~]{0,128})","emitted_at":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'
    rb'\.[0-9]{7}Z)","data":"'
)
_CANONICAL = re.compile(_CANONICAL_HEADER + rb'([A-Za-z0-9+/=]*)"\}')
_HEADER = re.compile(_CANONICAL_HEADER)
"""Everything up to `data`: the batch path lets base64 decoding check `data` (the regex engine scans those characters
one at a time, several times slower), which accepts only the characters `_CANONICAL` allows."""


def _parse_canonical(body: bytes, meta: EventMeta) -> Envelope | None:
    match = _CANONICAL.fullmatch(body)
    if match is None:
        return None
    rid, kind, index, count, total, original, sha, ctype, emitted, data = match.groups()
    index, count, total, original = int(index), int(count), int(total), int(original)
    record_id = rid.decode("ascii")
    if index >= count or original < total or (meta.partition_key is not None and meta.partition_key != record_id):
        return None
    return Envelope(
        record_id,
        _KINDS[kind.decode("ascii")],
        index,
        count,
        total,
        original,
        sha.decode("ascii"),
        ctype.decode("ascii"),
        emitted.decode("ascii"),
        data.decode("ascii"),
    )


def parse_envelope(body: bytes, meta: EventMeta) -> Envelope | DeadLetterRecord:
    """Parse and structurally validate one message body."""
    fast = _parse_canonical(body, meta)
    if fast is not None:
        return fast
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as exc:
        if len(body) >= TRUNCATION_SUSPECT_BYTES:
            return reject(
                DeadLetterReason.MESSAGE_TRUNCATED,
                f"{len(body)} bytes of invalid JSON: the gateway most likely cut the message ({exc})",
                meta,
                body,
            )
        return reject(DeadLetterReason.ENVELOPE_NOT_JSON, f"not JSON: {exc}", meta, body)
    if type(obj) is not dict:
        return reject(DeadLetterReason.ENVELOPE_NOT_JSON, f"JSON {type(obj).__name__}, not an object", meta, body)
    record_id = obj.get("record_id") if isinstance(obj.get("record_id"), str) else None
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else None
    version = obj.get("v")
    if version != CONTRACT_VERSION or not _is_int(version):
        reason = DeadLetterReason.UNKNOWN_VERSION if _is_int(version) else DeadLetterReason.ENVELOPE_INVALID
        return reject(
            reason,
            f"contract version {version!r}; this consumer knows {CONTRACT_VERSION}",
            meta,
            body,
            record_id,
            kind,
        )
    problems = []
    if record_id is None or not RECORD_ID_PATTERN.match(record_id):
        problems.append("record_id: missing or not [A-Za-z0-9._:-]{1,128}")
    if kind not in _KINDS:
        problems.append(f"kind: {obj.get('kind')!r} is not one of {sorted(_KINDS)}")
    index, count = obj.get("chunk_index"), obj.get("chunk_count")
    total, original = obj.get("total_bytes"), obj.get("original_bytes")
    if not (_is_int(count) and count >= 1):
        problems.append(f"chunk_count: {count!r} is not an integer >= 1")
    if not (_is_int(index) and index >= 0 and (not _is_int(count) or index < count)):
        problems.append(f"chunk_index: {index!r} is not an integer in [0, chunk_count)")
    if not (_is_int(total) and total >= 0):
        problems.append(f"total_bytes: {total!r} is not an integer >= 0")
    if not (_is_int(original) and (not _is_int(total) or original >= total)):
        problems.append(f"original_bytes: {original!r} is not an integer >= total_bytes")
    sha = obj.get("sha256")
    if not (isinstance(sha, str) and SHA256_PATTERN.match(sha)):
        problems.append("sha256: not 64 lower-case hex digits")
    if obj.get("encoding") != "base64":
        problems.append(f"encoding: {obj.get('encoding')!r} is not 'base64'")
    ctype = obj.get("content_type")
    if not (isinstance(ctype, str) and len(ctype) <= MAX_CONTENT_TYPE_CHARS):
        problems.append("content_type: not a string of at most 128 characters")
    emitted = obj.get("emitted_at")
    if not (isinstance(emitted, str) and EMITTED_AT_PATTERN.match(emitted)):
        problems.append("emitted_at: not yyyy-MM-ddTHH:mm:ss.fffffffZ")
    data = obj.get("data")
    if not isinstance(data, str):
        problems.append("data: not a string")
    if meta.partition_key is not None and record_id is not None and meta.partition_key != record_id:
        problems.append(f"record_id: {record_id!r} differs from the message's partition key {meta.partition_key!r}")
    if problems:
        return reject(DeadLetterReason.ENVELOPE_INVALID, "; ".join(problems), meta, body, record_id, kind)
    return Envelope(
        record_id=record_id,  # type: ignore[arg-type]
        kind=_KINDS[kind],  # type: ignore[index]
        chunk_index=index,  # type: ignore[arg-type]
        chunk_count=count,  # type: ignore[arg-type]
        total_bytes=total,  # type: ignore[arg-type]
        original_bytes=original,  # type: ignore[arg-type]
        sha256=sha,  # type: ignore[arg-type]
        content_type=ctype,  # type: ignore[arg-type]
        emitted_at=emitted,  # type: ignore[arg-type]
        data=data,  # type: ignore[arg-type]
    )


def _check_chunk_length(env: Envelope, length: int) -> str | None:
    """Is a chunk of `length` bytes possible at its position? (The producer's chunk size is not known here.)"""
    count, total = env.chunk_count, env.total_bytes
    if count == 1:
        return None if length == total else f"single chunk of {length} bytes, total_bytes {total}"
    if env.chunk_index < count - 1:
        if length == 0 or length % 3 or not (length * (count - 1) < total <= length * count):
            return f"chunk {env.chunk_index} of {count} has {length} bytes, impossible for total_bytes {total}"
        return None
    if length == 0 or length >= total:
        return f"last chunk of {count} has {length} bytes, impossible for total_bytes {total}"
    return None
