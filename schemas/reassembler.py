"""Step 2 of decoding, the stateful reassembler (schemas/README.md, section 5): envelopes in, completed records or
dead letters out. Step 1, parsing one message into an envelope, is `schemas.envelope_parser`.

No I/O and no clock: time is the event time the stream carries (each partition's newest enqueued time), so a
replay of the same events makes the same decisions. Nothing it rejects escapes as an exception: every rejection
is a `DeadLetterRecord` with a typed reason.
"""

from __future__ import annotations

import binascii
import hashlib
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pybase64

from schemas.deadletter import DeadLetterReason, DeadLetterRecord
from schemas.envelope import Envelope, RecordKind
from schemas.envelope_parser import (
    _CANONICAL,
    _CANONICAL_HEADER,
    _HEADER,
    _KINDS,
    _KINDS_BY_BYTES,
    EventMeta,
    _check_chunk_length,
    _is_int,
    _parse_canonical,
    b64decode_strict,
    parse_envelope,
    reject,
)
from schemas.limits import DEFAULT_CHUNK_BYTES, DEFAULT_MAX_CHUNKS

__all__ = [
    "_CANONICAL",
    "_CANONICAL_HEADER",
    "_HEADER",
    "_KINDS",
    "_KINDS_BY_BYTES",
    "CompletedRecord",
    "EventMeta",
    "Output",
    "Reassembler",
    "ReassemblerConfig",
    "Rejected",
    "_check_chunk_length",
    "_is_int",
    "_parse_canonical",
    "b64decode_strict",
    "parse_envelope",
    "reject",
]
"""Envelope parsing moved to `schemas.envelope_parser` (step 1); its names stay importable from here."""

Rejected = DeadLetterRecord


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
                                self.stats[f"rejected.{item.reason.value}"] += 1  # type: ignore[union-attr]
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
