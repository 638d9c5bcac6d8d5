"""Every bad-input class becomes a dead-letter row with its reason and replay coordinates; none stops the
consumer or holds its checkpoint back."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta

from schemas.codec import ChunkingParams, encode
from schemas.reassembler import ReassemblerConfig
from tests.unit.consumer.streams import T0, Harness, Stream, params, read, read_column, rid, usage_record


def _env(record_id: str, payload: bytes, kind: str = "usage", p: ChunkingParams | None = None) -> list[dict]:
    return [json.loads(b) for b in encode(record_id, kind, payload, emitted_at=T0, params=p or params())]


def _dump(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _usage(i: int, **changes: object) -> bytes:
    return json.dumps(usage_record(rid(i), i, **changes)).encode()


def _bad_stream() -> tuple[Stream, dict[str, int]]:
    stream = Stream()
    expected: dict[str, int] = {}

    def bad(reason: str, body: bytes, *, seconds: float | None = None) -> None:
        stream.add(body, seconds=seconds)
        expected[reason] = expected.get(reason, 0) + 1

    stream.add_usage(0)
    bad("envelope_not_json", b"this is not json")
    cut = _dump({**_env(rid(1), b"x" * 3, kind="request_body")[0], "data": "QUFB" * 50_000})[:199_500]
    bad("message_truncated", cut)
    bad("envelope_invalid", b'{"v":1,"record_id":"abc"}')
    bad("unknown_version", _dump({**_env(rid(2), _usage(2))[0], "v": 2}))
    bad("bad_base64", _dump({**_env(rid(3), _usage(3))[0], "data": "!!!!"}))
    env = _env(rid(4), _usage(4), p=params(chunk_bytes=3000))[0]
    bad("chunk_length_mismatch", _dump({**env, "total_bytes": env["total_bytes"] + 1, "original_bytes": 99999}))
    first, second, *rest = _env(rid(5), b"y" * 900, kind="response_body")
    stream.add(_dump(first))
    bad("inconsistent_chunk", _dump({**second, "content_type": "text/other"}))
    other = base64.b64encode(b"z" * 300).decode()
    bad("conflicting_duplicate", _dump({**first, "data": other}))
    for chunk in [second, *rest]:
        stream.add(_dump(chunk))  # the record still completes
    env = _env(rid(6), _usage(6), p=params(chunk_bytes=3000))[0]
    bad("checksum_mismatch", _dump({**env, "sha256": hashlib.sha256(b"other").hexdigest()}))
    huge = _env(rid(7), b"h" * 2400, kind="request_body")[0]
    bad("record_too_large", _dump(huge))
    truncated = _env(rid(8), _usage(8, padding="p" * 3000), p=params(chunk_bytes=300, max_chunks=2))
    for chunk in truncated[:-1]:
        stream.add(_dump(chunk))
    bad("record_truncated", _dump(truncated[-1]))
    bad("record_not_json", _dump(_env(rid(9), b"[1, 2, 3]", p=params(chunk_bytes=3000))[0]))
    bad("record_invalid", _dump(_env(rid(10), _usage(10, operation="teleport"), p=params(chunk_bytes=3000))[0]))
    lonely = _env(rid(11), b"w" * 900, kind="request_body")
    stream.add(_dump(lonely[0]), seconds=100)
    expected["incomplete_expired"] = 1
    stream.add_usage(12)
    stream.add(_dump(_env(rid(13), _usage(13), p=params(chunk_bytes=3000))[0]), seconds=100 + 3600)  # expires rid 11
    return stream, expected


async def test_every_bad_input_class_is_dead_lettered_with_replay_coordinates(tmp_path):
    stream, expected = _bad_stream()
    harness = Harness(
        tmp_path / "lake",
        tmp_path / "ckpt",
        config=ReassemblerConfig(ttl=timedelta(minutes=15), max_record_bytes=2000),
    )
    await harness.run(stream)
    letters = read(harness.lake, "dead_letters")
    reasons: dict[str, int] = {}
    for row in letters:
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    assert reasons == expected
    by_seq = {e.sequence_number: e for e in stream.events}
    for row in letters:
        event = by_seq[row["sequence_number"]]
        assert row["partition"] == "0" and row["offset"] == event.offset
        assert row["enqueued_time"] == event.enqueued_time
        assert row["raw_bytes"] >= len(row["raw_body"]) and len(row["raw_body"]) <= 65_536
        assert row["detail"]
    invalid = next(r for r in letters if r["reason"] == "record_invalid")
    assert "operation" in invalid["detail"]
    truncated = next(r for r in letters if r["reason"] == "message_truncated")
    assert truncated["raw_bytes"] == 199_500
    assert sorted(read_column(harness.lake, "usage", "record_id")) == sorted([rid(0), rid(12), rid(13)])
    assert read_column(harness.lake, "payloads", "record_id") == [rid(5)]
    checkpoint = await harness.checkpoint()
    assert checkpoint is not None and checkpoint.sequence_number == len(stream.events) - 1
    assert harness.stats.dead_letters == expected
