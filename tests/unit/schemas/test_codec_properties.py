"""The round trip of the wire contract, proven over payloads from 0 bytes to several MB (schemas/README.md)."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import encode
from schemas.deadletter import DeadLetterRecord
from schemas.envelope import RecordKind
from schemas.limits import MAX_MESSAGE_BYTES
from schemas.reassembler import CompletedRecord, Reassembler, ReassemblerConfig
from tests.support.profiles import examples
from tests.unit.schemas.strategies import BASE_TIME, chunking_for, metas, payloads

PROPERTY = settings(
    max_examples=examples(1000),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
RECORD_ID = "6f1c2c1e-8d1f-4a3b-9a57-0c2a0f7d9b11"
EMITTED = "2026-11-27T10:00:00.1234567Z"


def big_reassembler() -> Reassembler:
    return Reassembler(ReassemblerConfig(max_record_bytes=10**9, max_pending_bytes=10**10))


def feed_all(reassembler: Reassembler, bodies: list[bytes]) -> list[CompletedRecord | DeadLetterRecord]:
    out: list[CompletedRecord | DeadLetterRecord] = []
    for body, meta in zip(bodies, metas(len(bodies), key=RECORD_ID), strict=True):
        out.extend(reassembler.feed(body, meta))
    return out


@PROPERTY
@given(data=st.data(), payload=payloads(), kind=st.sampled_from(list(RecordKind)))
def test_any_payload_round_trips_under_any_permutation_and_duplication(data, payload, kind):
    params = data.draw(chunking_for(len(payload)))
    bodies = encode(RECORD_ID, kind, payload, emitted_at=EMITTED, params=params)
    assert all(len(b) <= MAX_MESSAGE_BYTES for b in bodies)
    assert "".join(json.loads(b)["data"] for b in bodies) == __import__("base64").b64encode(payload).decode()
    delivered = data.draw(st.permutations(bodies))
    duplicates = data.draw(st.lists(st.sampled_from(bodies), max_size=5))
    for dup in duplicates:
        delivered.insert(data.draw(st.integers(0, len(delivered))), dup)

    reassembler = big_reassembler()
    out = feed_all(reassembler, delivered)

    assert [type(o) for o in out] == [CompletedRecord], out
    record = out[0]
    assert record.payload == payload
    assert (record.record_id, record.kind, record.original_bytes, record.truncated) == (
        RECORD_ID,
        kind,
        len(payload),
        False,
    )
    assert reassembler.pending_records == 0 and reassembler.pending_bytes == 0
    assert reassembler.low_watermark("0") is None


@PROPERTY
@given(data=st.data(), payload=payloads())
def test_beyond_max_chunks_the_record_is_truncated_and_says_how_big_it_was(data, payload):
    params = data.draw(chunking_for(len(payload), allow_truncation=True))
    bodies = encode(RECORD_ID, RecordKind.RESPONSE_BODY, payload, emitted_at=EMITTED, params=params)
    assert len(bodies) <= params.max_chunks
    out = feed_all(big_reassembler(), data.draw(st.permutations(bodies)))
    assert len(out) == 1 and isinstance(out[0], CompletedRecord)
    assert out[0].payload == payload[: params.max_record_bytes]
    assert out[0].original_bytes == len(payload)
    assert out[0].truncated == (len(payload) > params.max_record_bytes)


@PROPERTY
@given(data=st.data(), payload=payloads())
def test_a_missing_chunk_never_completes_and_every_held_chunk_is_dead_lettered(data, payload):
    params = data.draw(chunking_for(len(payload)))
    bodies = encode(RECORD_ID, RecordKind.REQUEST_BODY, payload, emitted_at=EMITTED, params=params)
    if len(bodies) == 1:
        bodies = encode(
            RECORD_ID, RecordKind.REQUEST_BODY, payload + b"xyz" * 3, emitted_at=EMITTED, params=type(params)(3, 10**6)
        )
    lost = data.draw(st.integers(0, len(bodies) - 1))
    kept = data.draw(st.permutations([b for i, b in enumerate(bodies) if i != lost]))
    reassembler = big_reassembler()
    out = feed_all(reassembler, kept)
    assert out == []
    assert reassembler.low_watermark("0") == 100  # the first chunk still held pins the checkpoint
    expired = reassembler.expire("0", BASE_TIME + timedelta(days=1))
    assert len(expired) == len(kept)
    assert {d.reason.value for d in expired} == {"incomplete_expired"}
    assert reassembler.pending_bytes == 0 and reassembler.low_watermark("0") is None


@PROPERTY
@given(data=st.data(), payload=payloads())
def test_a_truncated_envelope_is_rejected_and_never_yields_a_record(data, payload):
    params = data.draw(chunking_for(len(payload)))
    bodies = encode(RECORD_ID, RecordKind.USAGE, payload, emitted_at=EMITTED, params=params)
    victim = data.draw(st.integers(0, len(bodies) - 1))
    cut = data.draw(st.integers(0, len(bodies[victim]) - 1))
    bodies[victim] = bodies[victim][:cut]
    reassembler = big_reassembler()
    out = feed_all(reassembler, bodies)
    out += reassembler.expire("0", BASE_TIME + timedelta(days=1))
    assert not any(isinstance(o, CompletedRecord) for o in out)
    assert len(out) == len(bodies)  # every message is accounted for: one dead letter each
    assert all(isinstance(o, DeadLetterRecord) for o in out)


@PROPERTY
@given(data=st.data(), payload=payloads())
def test_any_single_corrupted_byte_never_yields_a_wrong_record(data, payload):
    params = data.draw(chunking_for(len(payload)))
    kind = data.draw(st.sampled_from(list(RecordKind)))
    bodies = encode(RECORD_ID, kind, payload, emitted_at=EMITTED, params=params)
    victim = data.draw(st.integers(0, len(bodies) - 1))
    position = data.draw(st.integers(0, len(bodies[victim]) - 1))
    original = bodies[victim][position]
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != original))
    corrupted = bytearray(bodies[victim])
    corrupted[position] = replacement
    bodies[victim] = bytes(corrupted)

    reassembler = big_reassembler()
    out = feed_all(reassembler, bodies)
    out += reassembler.expire("0", BASE_TIME + timedelta(days=1))
    for item in out:
        if isinstance(item, CompletedRecord):
            # Whatever completes is the true record: same identity, byte-identical payload.
            assert (item.record_id, item.kind, item.payload) == (RECORD_ID, kind, payload)
    assert sum(isinstance(o, CompletedRecord) for o in out) <= 1
    accounted = sum(1 for o in out if isinstance(o, DeadLetterRecord))
    if not any(isinstance(o, CompletedRecord) for o in out):
        assert accounted >= 1  # the loss is visible as dead letters, never silent
