"""Reassembler rules the checkpoint depends on, one rule per test (issue 20: each had no test a realistic bug fails)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.codec import ChunkingParams, encode
from schemas.deadletter import DeadLetterReason, DeadLetterRecord
from schemas.reassembler import CompletedRecord, EventMeta, Reassembler, ReassemblerConfig

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TTL = timedelta(minutes=15)


def chunks(record_id: str, size: int, chunk_bytes: int = 30) -> list[bytes]:
    return encode(
        record_id,
        "usage",
        bytes(range(size % 256)) * (size // 256) + b"x" * (size % 256),
        params=ChunkingParams(chunk_bytes=chunk_bytes, max_chunks=64),
        emitted_at=T0,
    )


def meta(seq: int, at: datetime = T0, partition: str = "0") -> EventMeta:
    return EventMeta(partition, seq, str(seq * 10), at)


def test_out_of_order_chunks_report_the_earliest_event_not_chunk_zero():
    """A record's `first` is its earliest event in the stream (what the checkpoint must stay before), even when
    chunk 0 arrived later than another chunk."""
    bodies = chunks("11111111-1111-1111-1111-111111111111", 80)
    assert len(bodies) == 3
    reassembler = Reassembler()
    order = [2, 0, 1]  # chunk 2 at seq 5, chunk 0 at seq 6, chunk 1 at seq 7
    outputs = [reassembler.feed(bodies[index], meta(5 + i)) for i, index in enumerate(order)]
    (done,) = outputs[-1]
    assert isinstance(done, CompletedRecord)
    assert done.first.sequence_number == 5
    assert done.last_sequence_number == 7
    assert done.payload.endswith(b"x" * 80)


def test_the_low_watermark_is_the_earliest_held_chunk_of_any_pending_record():
    """low_watermark = the smallest sequence number still held; None once nothing is pending."""
    a = chunks("22222222-2222-2222-2222-222222222222", 80)
    b = chunks("33333333-3333-3333-3333-333333333333", 80)
    reassembler = Reassembler()
    reassembler.feed(b[1], meta(3))
    reassembler.feed(a[0], meta(4))
    reassembler.feed(b[0], meta(5))
    assert reassembler.low_watermark("0") == 3
    assert reassembler.low_watermark("1") is None
    reassembler.feed(b[2], meta(6))  # b completes: a's chunk at 4 is the oldest still held
    assert reassembler.low_watermark("0") == 4
    reassembler.feed(a[1], meta(7))
    reassembler.feed(a[2], meta(8))
    assert reassembler.low_watermark("0") is None


def test_forget_partition_drops_the_completed_record_memory_so_a_replay_completes_again():
    """After a partition is forgotten (ownership lost, reopened from the checkpoint), re-reading a record it had
    completed completes it again: remembering it would drop it as a duplicate although its rows were never flushed."""
    (body,) = chunks("44444444-4444-4444-4444-444444444444", 10, chunk_bytes=300)
    reassembler = Reassembler()
    assert isinstance(reassembler.feed(body, meta(0))[0], CompletedRecord)
    assert reassembler.feed(body, meta(1)) == []  # a redelivery in the same session is a duplicate
    reassembler.feed(chunks("55555555-5555-5555-5555-555555555555", 80)[0], meta(2))
    assert reassembler.low_watermark("0") == 2
    reassembler.forget_partition("0")
    assert reassembler.low_watermark("0") is None
    assert reassembler.pending_records == 0 and reassembler.pending_bytes == 0
    (again,) = reassembler.feed(body, meta(0))
    assert isinstance(again, CompletedRecord)


def test_forget_partition_keeps_other_partitions_memory():
    """Forgetting one partition leaves another partition's completed records remembered (still duplicates)."""
    (body,) = chunks("66666666-6666-6666-6666-666666666666", 10, chunk_bytes=300)
    reassembler = Reassembler()
    reassembler.feed(body, meta(0, partition="1"))
    reassembler.forget_partition("0")
    assert reassembler.feed(body, meta(1, partition="1")) == []


def test_an_incomplete_record_expires_only_when_older_than_the_ttl():
    """The TTL boundary: a record whose first chunk is exactly `ttl` old is kept; one microsecond more expires it,
    and every chunk it held becomes a dead letter `incomplete_expired`."""
    bodies = chunks("77777777-7777-7777-7777-777777777777", 80)
    reassembler = Reassembler(ReassemblerConfig(ttl=TTL))
    reassembler.feed(bodies[0], meta(0, T0))
    reassembler.feed(bodies[1], meta(1, T0 + timedelta(minutes=1)))
    assert reassembler.expire("0", T0 + TTL) == []
    assert reassembler.pending_records == 1
    expired = reassembler.expire("0", T0 + TTL + timedelta(microseconds=1))
    assert [d.sequence_number for d in expired] == [0, 1]
    assert all(isinstance(d, DeadLetterRecord) and d.reason is DeadLetterReason.INCOMPLETE_EXPIRED for d in expired)
    assert reassembler.pending_records == 0 and reassembler.low_watermark("0") is None


def test_expiry_follows_event_time_and_never_moves_back():
    """The TTL runs on the partition's event time: a later event expires what is too old, while an event enqueued
    earlier than one already seen does not move the clock back (so it cannot keep a record alive)."""
    bodies = chunks("88888888-8888-8888-8888-888888888888", 80)
    other = chunks("99999999-9999-9999-9999-999999999999", 10, chunk_bytes=300)
    late = chunks("aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", 10, chunk_bytes=300)
    reassembler = Reassembler(ReassemblerConfig(ttl=TTL))
    reassembler.feed(bodies[0], meta(0, T0))
    assert reassembler.feed(late[0], meta(1, T0 - TTL))[0].record_id.startswith("aaaa")
    assert reassembler.expire("0", T0 - TTL) == []
    assert reassembler.pending_records == 1
    out = reassembler.feed(other[0], meta(2, T0 + TTL + timedelta(seconds=1)))
    assert [type(o).__name__ for o in out] == ["CompletedRecord", "DeadLetterRecord"]
    assert out[1].reason is DeadLetterReason.INCOMPLETE_EXPIRED
