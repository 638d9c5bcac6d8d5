"""The reassembler's rules, one at a time (schemas/README.md, section 5)."""

from __future__ import annotations

import json
from datetime import timedelta

from schemas.codec import ChunkingParams, encode
from schemas.deadletter import DeadLetterRecord
from schemas.envelope import RecordKind
from schemas.limits import DEAD_LETTER_RAW_BYTES
from schemas.reassembler import CompletedRecord, EventMeta, Reassembler, ReassemblerConfig
from schemas.records import decode_usage, to_payload_record
from tests.unit.schemas.strategies import BASE_TIME, metas

RID = "req-1"
EMITTED = "2026-11-27T10:00:00.0000000Z"
SMALL = ChunkingParams(chunk_bytes=3, max_chunks=100)


def usage_json(**over) -> bytes:
    record = {
        "record_id": RID,
        "event_time": "2026-11-27T10:00:00Z",
        "status_code": 200,
        "operation": "embeddings",
        "usage_source": "reported",
        "prompt_tokens": 8,
        "total_tokens": 8,
    } | over
    return json.dumps(record).encode()


def reasons(out) -> list[str]:
    return [o.reason.value for o in out if isinstance(o, DeadLetterRecord)]


def test_usage_record_decodes_and_validates():
    r = Reassembler()
    [done] = r.feed(encode(RID, "usage", usage_json(), emitted_at=EMITTED)[0], metas(1)[0])
    usage = decode_usage(done)
    assert usage.prompt_tokens == 8 and usage.operation.value == "embeddings"


def test_invalid_usage_record_names_fields():
    r = Reassembler()
    [done] = r.feed(encode(RID, "usage", usage_json(status_code=7, operation="x"), emitted_at=EMITTED)[0], metas(1)[0])
    dead = decode_usage(done)
    assert dead.reason.value == "record_invalid"
    assert "status_code" in dead.detail and "operation" in dead.detail
    assert dead.sequence_number == 100 and dead.raw_body == usage_json(status_code=7, operation="x")


def test_usage_payload_that_is_not_json_or_was_truncated():
    r = Reassembler()
    [done] = r.feed(encode(RID, "usage", b"[1,2]", emitted_at=EMITTED)[0], metas(1)[0])
    assert decode_usage(done).reason.value == "record_not_json"
    r = Reassembler()
    [done] = r.feed(
        encode(RID, "usage", usage_json(), emitted_at=EMITTED, params=ChunkingParams(30, 1))[0], metas(1)[0]
    )
    assert decode_usage(done).reason.value == "record_truncated"


def test_envelope_level_rejections():
    r = Reassembler()
    good = encode(RID, "usage", b"{}", emitted_at=EMITTED)[0]
    cases = {
        b"not json": "envelope_not_json",
        b"x" * 199_500: "message_truncated",
        b"[]": "envelope_not_json",
        good.replace(b'"v":1', b'"v":2'): "unknown_version",
        good.replace(b'"kind":"usage"', b'"kind":"other"'): "envelope_invalid",
        good.replace(b'"data":"e30="', b'"data":"e30*"'): "bad_base64",
        good.replace(
            b'"total_bytes":2,"original_bytes":2', b'"total_bytes":3,"original_bytes":3'
        ): "chunk_length_mismatch",
        good.replace(b'"total_bytes":2', b'"total_bytes":3'): "envelope_invalid",
        good.replace(b'"data":"e30="', b'"data":"e3w="'): "checksum_mismatch",
    }
    for body, reason in cases.items():
        out = r.feed(body, metas(1)[0])
        assert reasons(out) == [reason], (body[:80], out)
        assert out[0].raw_bytes == len(body) and len(out[0].raw_body) <= DEAD_LETTER_RAW_BYTES


def test_partition_key_must_match_record_id():
    r = Reassembler()
    body = encode(RID, "usage", b"{}", emitted_at=EMITTED)[0]
    out = r.feed(body, EventMeta("0", 1, "1", BASE_TIME, partition_key="someone-else"))
    assert reasons(out) == ["envelope_invalid"] and "partition key" in out[0].detail


def test_record_over_the_size_limit_is_dead_lettered_per_chunk():
    r = Reassembler(ReassemblerConfig(max_record_bytes=5))
    bodies = encode(RID, "request_body", b"0123456789", emitted_at=EMITTED, params=SMALL)
    out = [o for b, m in zip(bodies, metas(len(bodies)), strict=True) for o in r.feed(b, m)]
    assert reasons(out) == ["record_too_large"] * len(bodies)


def test_exact_duplicates_are_ignored_and_conflicting_ones_rejected():
    r = Reassembler()
    bodies = encode(RID, "request_body", b"abcdefgh", emitted_at=EMITTED, params=SMALL)
    m = metas(10)
    assert r.feed(bodies[0], m[0]) == []
    assert r.feed(bodies[0], m[1]) == []
    forged = bodies[0].replace(b'"data":"YWJj"', b'"data":"eHl6"')
    assert forged != bodies[0]
    assert reasons(r.feed(forged, m[2])) == ["conflicting_duplicate"]
    assert r.feed(bodies[1], m[3]) == []
    [done] = r.feed(bodies[2], m[4])
    assert done.payload == b"abcdefgh" and done.first == m[0] and done.last_sequence_number == m[4].sequence_number
    assert r.stats["duplicates_ignored"] == 1
    # A redelivered chunk of a record already completed is a duplicate, not a new record.
    assert r.feed(bodies[1], m[5]) == [] and r.stats["duplicates_ignored"] == 2
    other = encode(RID, "request_body", b"zzzzzzzz", emitted_at=EMITTED, params=SMALL)
    assert reasons(r.feed(other[0], m[6])) == ["conflicting_duplicate"]


def test_inconsistent_header_is_rejected():
    r = Reassembler()
    first = encode(RID, "request_body", b"abcdefgh", emitted_at=EMITTED, params=SMALL)
    second = encode(RID, "request_body", b"abcdefghijkl", emitted_at=EMITTED, params=SMALL)
    r.feed(first[0], metas(1)[0])
    assert reasons(r.feed(second[1], metas(2)[1])) == ["inconsistent_chunk"]


def test_watermark_is_the_first_chunk_of_the_oldest_incomplete_record():
    r = Reassembler()
    a = encode("a", "request_body", b"aaaaaa", emitted_at=EMITTED, params=SMALL)
    b = encode("b", "request_body", b"bbbbbb", emitted_at=EMITTED, params=SMALL)
    m = metas(4, start=10)
    r.feed(a[0], m[0])
    r.feed(b[0], m[1])
    assert r.low_watermark("0") == 10
    r.feed(a[1], m[2])
    assert r.low_watermark("0") == 11
    r.feed(b[1], m[3])
    assert r.low_watermark("0") is None and r.low_watermark("other") is None


def test_ttl_is_event_time_of_the_partition():
    r = Reassembler(ReassemblerConfig(ttl=timedelta(seconds=60)))
    parts = encode("a", "request_body", b"aaaaaa", emitted_at=EMITTED, params=SMALL)
    r.feed(parts[0], EventMeta("0", 1, "1", BASE_TIME))
    noise = encode("n", "usage", b"{}", emitted_at=EMITTED)[0]
    assert reasons(r.feed(noise, EventMeta("1", 1, "1", BASE_TIME + timedelta(hours=1)))) == []  # other partition
    assert r.pending_records == 1
    out = r.feed(noise.replace(b'"n"', b'"m"'), EventMeta("0", 2, "2", BASE_TIME + timedelta(seconds=61)))
    dead = [o for o in out if isinstance(o, DeadLetterRecord)]
    assert reasons(out) == ["incomplete_expired"] and dead[0].sequence_number == 1
    assert r.pending_records == 0


def test_pending_bytes_cap_evicts_the_oldest_incomplete_record():
    r = Reassembler(ReassemblerConfig(max_pending_bytes=10))
    a = encode("a", "request_body", b"a" * 12, emitted_at=EMITTED, params=ChunkingParams(6, 10))
    b = encode("b", "request_body", b"b" * 12, emitted_at=EMITTED, params=ChunkingParams(6, 10))
    m = metas(3)
    assert r.feed(a[0], m[0]) == []
    out = r.feed(b[0], m[1])
    assert reasons(out) == ["pending_bytes_exceeded"] and out[0].record_id == "a"
    assert r.pending_bytes <= 10 and r.pending_records == 1


def test_forget_partition_drops_state_silently():
    r = Reassembler()
    parts = encode("a", "request_body", b"aaaaaa", emitted_at=EMITTED, params=SMALL)
    r.feed(parts[0], metas(1)[0])
    r.forget_partition("0")
    assert r.pending_bytes == 0 and r.low_watermark("0") is None


def test_payload_records_keep_text_or_fall_back_to_base64():
    r = Reassembler()
    text = "prix1€ ok".encode()  # the cut at 6 bytes splits the euro sign
    cut = encode("t", "response_body", text, emitted_at=EMITTED, params=ChunkingParams(3, 2), content_type="text/plain")
    [done] = [o for b, m in zip(cut, metas(2), strict=True) for o in r.feed(b, m)]
    record = to_payload_record(done)
    assert (record.body, record.body_encoding, record.truncated, record.original_bytes) == (
        "prix1",
        "utf-8",
        True,
        len(text),
    )
    [binary] = r.feed(encode("b", "response_body", b"\xff\xfe", emitted_at=EMITTED)[0], metas(1, start=5)[0])
    assert to_payload_record(binary).body_encoding == "base64" and to_payload_record(binary).body == "//4="
    assert isinstance(binary, CompletedRecord) and binary.kind is RecordKind.RESPONSE_BODY
