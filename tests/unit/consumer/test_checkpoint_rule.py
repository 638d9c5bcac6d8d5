"""The checkpoint rule on its own: a pure state machine, no storage, no pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.checkpoint_rule import MAX_FINISHED, CheckpointRule, FinishedRecord, finished_records
from consumer.sources import Position
from schemas.deadletter import DeadLetterReason, dead_letter
from schemas.envelope import RecordKind
from schemas.reassembler import CompletedRecord, EventMeta

T = datetime(2026, 11, 27, tzinfo=UTC)


def pos(seq: int) -> Position:
    return Position(seq, f"off-{seq * 7 + 3}")


def read_through(rule: CheckpointRule, first: int, last: int) -> None:
    for seq in range(first, last + 1):
        rule.read(seq, pos(seq - 1))


def completed(record_id: str, first: int, last: int) -> CompletedRecord:
    meta = EventMeta("0", first, str(first), T)
    return CompletedRecord(record_id, RecordKind.RESPONSE_BODY, b"x", 1, "", "", meta, last)


def letter(record_id: str, seq: int) -> object:
    return dead_letter(
        DeadLetterReason.INCOMPLETE_EXPIRED,
        "expired",
        partition="0",
        sequence_number=seq,
        offset=str(seq),
        enqueued_time=T,
        raw=b"",
        record_id=record_id,
        kind="request_body",
    )


def test_nothing_pending_checkpoints_the_last_event_read_once_it_is_flushed():
    rule = CheckpointRule()
    read_through(rule, 1, 9)
    assert rule.target(pos(9), None, flushed=None) is None  # nothing in the lake yet
    assert rule.target(pos(9), None, flushed=8) is None  # the last event read is not flushed
    assert rule.target(pos(9), None, flushed=9) == pos(9)


def test_a_pending_record_holds_the_checkpoint_just_before_its_first_chunk():
    rule = CheckpointRule()
    read_through(rule, 1, 9)
    assert rule.target(pos(9), watermark=4, flushed=9) == pos(3)
    rule.commit(pos(3))
    assert rule.target(pos(9), watermark=4, flushed=9) is None  # never twice at the same place
    read_through(rule, 10, 12)
    assert rule.target(pos(12), watermark=11, flushed=12) == pos(10)


def test_never_backwards_and_never_past_the_flushed_event():
    rule = CheckpointRule(committed=5)
    read_through(rule, 6, 9)
    assert rule.target(pos(9), watermark=6, flushed=9) is None  # before the committed checkpoint
    assert rule.target(pos(9), watermark=9, flushed=7) is None  # 8 is not flushed


def test_finished_records_are_the_multi_chunk_ones():
    outputs = [completed("a", 3, 7), completed("single", 8, 8), letter("b", 2), letter("b", 5), letter("c", 4)]
    assert finished_records(outputs) == [
        FinishedRecord("a", "response_body", 3, 7),
        FinishedRecord("b", "request_body", 2, 5),
    ]


def test_the_flush_state_carries_records_a_restart_from_the_last_commit_would_re_read():
    rule = CheckpointRule(committed=4)
    rule.finish(6, [completed("behind", 1, 4)])  # wholly behind the checkpoint: never re-read
    rule.finish(7, [completed("straddles", 2, 7)])
    rule.finish(9, [completed("ahead", 5, 9)])
    rule.finish(12, [completed("not-flushed", 3, 12)])
    assert [r.record_id for r in rule.straddling(flushed=10)] == ["straddles", "ahead"]
    rule.commit(pos(8))
    assert [r.record_id for r in rule.straddling(flushed=12)] == ["ahead", "not-flushed"]
    assert rule.straddling(flushed=None) == ()


def test_records_loaded_from_the_flush_state_are_carried_on_until_the_checkpoint_passes_them():
    rule = CheckpointRule(committed=4, finished=[FinishedRecord("old", "usage", 2, 6)])
    assert [r.record_id for r in rule.straddling(flushed=4)] == ["old"]
    rule.commit(pos(6))
    assert rule.straddling(flushed=9) == ()


def test_memory_of_finished_records_is_bounded():
    rule = CheckpointRule(committed=0)
    for seq in range(1, 3 * MAX_FINISHED):
        rule.finish(seq + 1, [completed(f"r{seq}", seq, seq + 1)])
    kept = rule.straddling(flushed=10**9)
    assert len(kept) == MAX_FINISHED and kept[-1].record_id == f"r{3 * MAX_FINISHED - 1}"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=1, max_size=60))
def test_targets_only_move_forward_and_stay_flushed_and_before_the_watermark(steps):
    """Whatever the sequence of reads and flushes: each target is after the last commit, not past the flushed
    event, and before the watermark when one is given."""
    rule = CheckpointRule()
    seq, flushed, committed = 0, None, -1
    for advance, with_watermark in steps:
        for _ in range(advance):
            seq += 1
            rule.read(seq, pos(seq - 1))
        flushed = seq if advance % 2 == 0 else flushed
        watermark = max(1, seq - advance) if with_watermark and seq else None
        target = rule.target(pos(seq), watermark, flushed)
        if target is not None:
            assert committed < target.sequence_number <= (flushed if flushed is not None else -1)
            if watermark is not None:
                assert target.sequence_number == watermark - 1
            rule.commit(target)
            committed = target.sequence_number
