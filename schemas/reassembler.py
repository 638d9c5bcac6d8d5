"""Pure reassembler core (schemas/README.md, section 5): envelopes in, completed records or dead letters out.

No I/O and no clock: time is the event time the stream carries (each partition's newest enqueued time), so a
replay of the same events makes the same decisions. Nothing it rejects escapes as an exception: every rejection
is a `DeadLetterRecord` with a typed reason.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple, TypeGuard

import pybase64

from schemas import CONTRACT_VERSION
from schemas.deadletter import DeadLetterReason, DeadLetterRecord, dead_letter
from schemas.envelope import EMITTED_AT_PATTERN, RECORD_ID_PATTERN, SHA256_PATTERN, Envelope, RecordKind
from schemas.limits import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_MAX_CHUNKS,
    MAX_CONTENT_TYPE_CHARS,
    TRUNCATION_SUSPECT_BYTES,
)

Rejected = DeadLetterRecord
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


@dataclass(slots=True)
class CompletedRecord:
    record_id: str
    kind: RecordKind
    payload: bytes
    original_bytes: int
    content_type: str
    emitted_at: str
    first: EventMeta
    """The coordinates of the record's earliest chunk in the stream."""
    last_sequence_number: int

    @property
    def truncated(self) -> bool:
        return self.original_bytes > len(self.payload)


@dataclass(frozen=True)
class ReassemblerConfig:
    ttl: timedelta = timedelta(minutes=15)
    """Event-time TTL of an incomplete record (APIM flushes its buffer about every 15 s)."""
    max_pending_bytes: int = 256 * 1024 * 1024
    max_record_bytes: int = DEFAULT_CHUNK_BYTES * DEFAULT_MAX_CHUNKS
    completed_memory: int = 100_000
    """How many recently completed records are remembered to recognise redelivered duplicates."""


Output = CompletedRecord | DeadLetterRecord
_Key = tuple[str, str, str]


@dataclass(slots=True)
class _Pending:
    header: tuple[int, int, int, str, str]
    chunks: dict[int, tuple[Envelope, EventMeta, int]] = field(default_factory=dict)
    """chunk index -> (envelope, where it was, decoded length)."""
    bytes_held: int = 0
    first_enqueued: datetime | None = None


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


class Reassembler:
    """Feed envelopes in stream order per partition; take completed records and dead letters out."""

    def __init__(self, config: ReassemblerConfig | None = None) -> None:
        self.config = config or ReassemblerConfig()
        self._pending: OrderedDict[_Key, _Pending] = OrderedDict()
        self._by_partition: dict[str, OrderedDict[_Key, _Pending]] = {}
        self._stream_time: dict[str, datetime] = {}
        self._recent: OrderedDict[_Key, str] = OrderedDict()
        self._finished_before: dict[str, dict[_Key, int]] = {}
        """partition -> records already in the lake -> their last chunk's sequence number (`restore_finished`)."""
        self.pending_bytes = 0
        self.stats: Counter[str] = Counter()

    # -- queries -------------------------------------------------------------------------------------------
    @property
    def pending_records(self) -> int:
        return len(self._pending)

    def low_watermark(self, partition: str) -> int | None:
        """The oldest sequence number of `partition` still needed (None: nothing pending there)."""
        held = self._by_partition.get(partition)
        if not held:
            return None
        return min(meta.sequence_number for rec in held.values() for _, meta, _ in rec.chunks.values())

    # -- input ---------------------------------------------------------------------------------------------
    def feed(self, body: bytes, meta: EventMeta) -> list[Output]:
        """Take one message; return what it completed or rejected (usually zero or one item)."""
        self.stats["events"] += 1
        out: list[Output] = []
        previous = self._stream_time.get(meta.partition)
        if previous is None or meta.enqueued_time > previous:
            self._stream_time[meta.partition] = meta.enqueued_time
        env = parse_envelope(body, meta)
        if isinstance(env, DeadLetterRecord):
            out.append(env)
        else:
            self._accept(env, body, meta, out)
        self._expire_partition(meta.partition, out)
        for item in out:
            self.stats["completed" if isinstance(item, CompletedRecord) else f"rejected.{item.reason.value}"] += 1
        return out

    def feed_many(self, bodies: Sequence[bytes], metas: Sequence[EventMeta]) -> list[list[Output]]:
        """Take messages in stream order; return what each one completed or rejected.

        Exactly `[self.feed(body, meta) for body, meta in zip(bodies, metas)]` (same outputs, order, state and
        stats), with the common case inlined: a canonical single-chunk envelope whose record is neither pending nor
        recently completed, whose data decodes to `total_bytes` and whose SHA-256 verifies. Anything else, and
        anything that would reject, goes through `feed` itself before any state changes.
        """
        results: list[list[Output]] = []
        stream_time = self._stream_time
        recent = self._recent
        pending = self._pending
        by_partition = self._by_partition
        max_record_bytes = self.config.max_record_bytes
        completed_memory = self.config.completed_memory
        match_header = _HEADER.match
        a2b = pybase64.b64decode
        sha256 = hashlib.sha256
        kinds = _KINDS_BY_BYTES
        completed = 0
        for body, meta in zip(bodies, metas, strict=True):
            partition = meta.partition
            previous = stream_time.get(partition)
            if previous is None or meta.enqueued_time > previous:
                stream_time[partition] = meta.enqueued_time
            match = match_header(body)
            if match is not None and match[3] == b"0" and match[4] == b"1":
                end = match.end()
                total = int(match[5])
                original = int(match[6])
                record_id = match[1].decode("ascii")
                if (
                    original >= total
                    and total <= max_record_bytes
                    and len(body) >= end + 2
                    and body.endswith(b'"}')
                    and (meta.partition_key is None or meta.partition_key == record_id)
                ):
                    try:
                        payload = a2b(body[end:-2], validate=True)  # its refusals go to `feed` (binascii)
                    except (binascii.Error, ValueError):
                        payload = None
                    kind, kind_value = kinds[match[2]]
                    key = (partition, record_id, kind_value)
                    if (
                        payload is not None
                        and len(payload) == total
                        and key not in recent
                        and key not in pending
                        and sha256(payload).hexdigest() == (sha := match[7].decode("ascii"))
                    ):
                        recent[key] = sha
                        if len(recent) > completed_memory:
                            recent.popitem(last=False)
                        out: list[Output] = [
                            CompletedRecord(
                                record_id,
                                kind,
                                payload,
                                original,
                                match[8].decode("ascii"),
                                match[9].decode("ascii"),
                                meta,
                                meta.sequence_number,
                            )
                        ]
                        completed += 1
                        if by_partition.get(partition):
                            self._expire_partition(partition, out)
                            for item in out[1:]:
                                if isinstance(item, DeadLetterRecord):  # what expiry adds: dead letters only
                                    self.stats[f"rejected.{item.reason.value}"] += 1
                        results.append(out)
                        continue
            results.append(self.feed(body, meta))
        if completed:
            self.stats["events"] += completed
            self.stats["completed"] += completed
        return results

    def expire(self, partition: str, now: datetime) -> list[DeadLetterRecord]:
        """Advance a partition's event time (e.g. from its last-enqueued time while idle) and expire by TTL."""
        previous = self._stream_time.get(partition)
        if previous is None or now > previous:
            self._stream_time[partition] = now
        out: list[Output] = []
        self._expire_partition(partition, out)
        return [item for item in out if isinstance(item, DeadLetterRecord)]

    def restore_finished(self, partition: str, records: Iterable[tuple[str, str, int]]) -> None:
        """Records (record_id, kind, last chunk's sequence number) a previous owner already finished: their chunks
        re-read up to that sequence number are ignored, not held as a new incomplete record. (After a restart the
        partition is re-read from the checkpoint, which can lie between such a record's chunks.)"""
        self._finished_before[partition] = {(partition, rid, kind): last for rid, kind, last in records}

    def forget_partition(self, partition: str) -> None:
        """Drop a partition's pending state without dead letters: its new owner re-reads it from the checkpoint."""
        self._finished_before.pop(partition, None)
        for key, rec in self._by_partition.pop(partition, {}).items():
            self._pending.pop(key, None)
            self.pending_bytes -= rec.bytes_held
        self._stream_time.pop(partition, None)
        for key in [k for k in self._recent if k[0] == partition]:
            del self._recent[key]

    # -- internals -----------------------------------------------------------------------------------------
    def _accept(self, env: Envelope, body: bytes, meta: EventMeta, out: list[Output]) -> None:
        rid, kind = env.record_id, env.kind.value
        if env.total_bytes > self.config.max_record_bytes:
            out.append(
                reject(
                    DeadLetterReason.RECORD_TOO_LARGE,
                    f"total_bytes {env.total_bytes} > limit {self.config.max_record_bytes}",
                    meta,
                    body,
                    rid,
                    kind,
                )
            )
            return
        try:
            decoded = b64decode_strict(env.data)
        except (binascii.Error, ValueError) as exc:
            out.append(reject(DeadLetterReason.BAD_BASE64, f"chunk {env.chunk_index}: {exc}", meta, body, rid, kind))
            return
        problem = _check_chunk_length(env, len(decoded))
        if problem:
            out.append(reject(DeadLetterReason.CHUNK_LENGTH_MISMATCH, problem, meta, body, rid, kind))
            return
        key = (meta.partition, rid, kind)
        finished_before = self._finished_before.get(meta.partition)
        if finished_before:
            last = finished_before.get(key)
            if last is not None and meta.sequence_number <= last and key not in self._pending:
                self.stats["replayed_ignored"] += 1
                return
        done_sha = self._recent.get(key)
        if done_sha is not None:
            if done_sha == env.sha256:
                self.stats["duplicates_ignored"] += 1
            else:
                out.append(
                    reject(
                        DeadLetterReason.CONFLICTING_DUPLICATE,
                        f"record already completed with sha256 {done_sha}, this chunk says {env.sha256}",
                        meta,
                        body,
                        rid,
                        kind,
                    )
                )
            return
        rec = self._pending.get(key)
        if env.chunk_count == 1 and rec is None:
            self._complete_single(env, decoded, meta, out)
            return
        if rec is None:
            rec = _Pending(header=env.header, first_enqueued=meta.enqueued_time)
            self._pending[key] = rec
            self._by_partition.setdefault(meta.partition, OrderedDict())[key] = rec
        elif rec.header != env.header:
            out.append(
                reject(
                    DeadLetterReason.INCONSISTENT_CHUNK,
                    f"chunk {env.chunk_index} header {env.header} differs from the record's {rec.header}",
                    meta,
                    body,
                    rid,
                    kind,
                )
            )
            return
        held = rec.chunks.get(env.chunk_index)
        if held is not None:
            if held[0].data == env.data:
                self.stats["duplicates_ignored"] += 1
            else:
                out.append(
                    reject(
                        DeadLetterReason.CONFLICTING_DUPLICATE,
                        f"second chunk {env.chunk_index} with different content",
                        meta,
                        body,
                        rid,
                        kind,
                    )
                )
            return
        rec.chunks[env.chunk_index] = (env, meta, len(decoded))
        rec.bytes_held += len(env.data)
        self.pending_bytes += len(env.data)
        if len(rec.chunks) == env.chunk_count:
            self._complete_multi(key, rec, out)
        else:
            self._enforce_cap(out)

    def _complete_single(self, env: Envelope, payload: bytes, meta: EventMeta, out: list[Output]) -> None:
        if hashlib.sha256(payload).hexdigest() != env.sha256:
            out.append(
                reject(
                    DeadLetterReason.CHECKSUM_MISMATCH,
                    "payload SHA-256 differs from sha256",
                    meta,
                    env.to_json(),
                    env.record_id,
                    env.kind.value,
                )
            )
            return
        self._remember((meta.partition, env.record_id, env.kind.value), env.sha256)
        out.append(
            CompletedRecord(
                env.record_id,
                env.kind,
                payload,
                env.original_bytes,
                env.content_type,
                env.emitted_at,
                meta,
                meta.sequence_number,
            )
        )

    def _complete_multi(self, key: _Key, rec: _Pending, out: list[Output]) -> None:
        self._drop(key, rec)
        ordered = [rec.chunks[i] for i in range(len(rec.chunks))]
        first_env = ordered[0][0]
        payload = b64decode_strict("".join(env.data for env, _, _ in ordered))  # each chunk passed it already
        metas = sorted((meta for _, meta, _ in ordered), key=lambda m: m.sequence_number)
        if len(payload) != first_env.total_bytes or hashlib.sha256(payload).hexdigest() != first_env.sha256:
            reason = (
                DeadLetterReason.CHUNK_LENGTH_MISMATCH
                if len(payload) != first_env.total_bytes
                else DeadLetterReason.CHECKSUM_MISMATCH
            )
            for env, meta, _ in ordered:
                out.append(
                    reject(
                        reason,
                        f"record of {len(ordered)} chunks failed verification "
                        f"({len(payload)} of {first_env.total_bytes} bytes)",
                        meta,
                        env.to_json(),
                        env.record_id,
                        env.kind.value,
                    )
                )
            return
        self._remember(key, first_env.sha256)
        out.append(
            CompletedRecord(
                first_env.record_id,
                first_env.kind,
                payload,
                first_env.original_bytes,
                first_env.content_type,
                first_env.emitted_at,
                metas[0],
                metas[-1].sequence_number,
            )
        )

    def _remember(self, key: _Key, sha: str) -> None:
        self._recent[key] = sha
        if len(self._recent) > self.config.completed_memory:
            self._recent.popitem(last=False)

    def _drop(self, key: _Key, rec: _Pending) -> None:
        del self._pending[key]
        partition = self._by_partition[key[0]]
        del partition[key]
        if not partition:
            del self._by_partition[key[0]]
        self.pending_bytes -= rec.bytes_held

    def _dead_letter_all(self, key: _Key, rec: _Pending, reason: DeadLetterReason, why: str, out: list[Output]) -> None:
        self._drop(key, rec)
        count = rec.header[0]
        for index in sorted(rec.chunks):
            env, meta, _ = rec.chunks[index]
            out.append(
                reject(
                    reason,
                    f"{why}: held {len(rec.chunks)} of {count} chunks",
                    meta,
                    env.to_json(),
                    env.record_id,
                    env.kind.value,
                )
            )

    def _expire_partition(self, partition: str, out: list[Output]) -> None:
        held = self._by_partition.get(partition)
        now = self._stream_time.get(partition)
        if not held or now is None:
            return
        deadline = now - self.config.ttl
        while held:
            key, rec = next(iter(held.items()))
            if rec.first_enqueued is None or rec.first_enqueued >= deadline:
                break
            self._dead_letter_all(
                key,
                rec,
                DeadLetterReason.INCOMPLETE_EXPIRED,
                f"incomplete after the event-time TTL of {self.config.ttl}",
                out,
            )
            held = self._by_partition.get(partition)

    def _enforce_cap(self, out: list[Output]) -> None:
        while self.pending_bytes > self.config.max_pending_bytes and self._pending:
            key, rec = next(iter(self._pending.items()))
            self._dead_letter_all(
                key,
                rec,
                DeadLetterReason.PENDING_BYTES_EXCEEDED,
                f"evicted to keep pending bytes under {self.config.max_pending_bytes}",
                out,
            )
