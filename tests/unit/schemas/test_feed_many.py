"""`Reassembler.feed_many` is `feed` applied event by event: same outputs, order, watermarks, state and stats."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import ChunkingParams, encode
from schemas.envelope import RecordKind
from schemas.reassembler import EventMeta, Reassembler, ReassemblerConfig
from tests.support.profiles import examples
from tests.unit.schemas.strategies import BASE_TIME

PROPERTY = settings(
    max_examples=examples(1000),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PARTITIONS = ["0", "1", "2"]
EMITTED = "2026-11-27T10:00:00.1234567Z"


def _corrupt(draw: st.DrawFn, body: bytes) -> bytes:
    if not _is_json_object(body):
        return body + b"x"
    how = draw(
        st.sampled_from(
            [
                "flip",
                "truncate",
                "spaces",
                "sha",
                "data",
                "pad",
                "tail",
                "quote",
                "not-json",
                "version",
                "big",
                "cut",
                "index",
                "count",
            ]
        )
    )
    if how == "flip":
        i = draw(st.integers(0, len(body) - 1))
        return body[:i] + bytes([body[i] ^ draw(st.integers(1, 255))]) + body[i + 1 :]
    if how == "truncate":
        return body[: draw(st.integers(0, len(body) - 1))]
    if how == "tail":
        return body + draw(st.sampled_from([b" ", b"\n", b'"}', b"x"]))
    if how == "quote":
        return body[:-2] + b"}"  # data's closing quote lost
    if how == "not-json":
        return draw(st.binary(max_size=40))
    obj = json.loads(body)
    if not all(isinstance(obj.get(k), int) for k in ("chunk_count", "total_bytes")) or not isinstance(
        obj.get("data"), str
    ):
        return body + b"x"  # already corrupted past these members
    if how == "spaces":
        return json.dumps(obj).encode()
    if how == "sha":
        obj["sha256"] = "0" * 64
    elif how == "data":
        obj["data"] = draw(st.sampled_from(["", "YQ==", "YWJj", "####", "YQ=", "Y===", obj["data"] + "YQ=="]))
    elif how == "pad":
        obj["data"] = obj["data"].rstrip("=")
    elif how == "version":
        obj["v"] = 2
    elif how == "big":
        obj["total_bytes"] = obj["original_bytes"] = 10**6
    elif how == "index":
        obj["chunk_index"] = obj["chunk_count"] + draw(st.integers(0, 1))
    elif how == "count":
        obj["chunk_count"] += 1
    elif how == "cut":
        obj["original_bytes"] = obj["total_bytes"] - 1  # says it was cut to more than it had
    return json.dumps(obj, separators=(",", ":")).encode()


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[bytes, EventMeta]]:
    """Interleaved records of several partitions: single and multi-chunk, duplicated, corrupted, some expiring."""
    events: list[tuple[str, bytes]] = []
    records = draw(st.integers(1, 14))
    for n in range(records):
        partition = draw(st.sampled_from(PARTITIONS))
        record_id = draw(st.sampled_from([f"rec-{n}", f"rec-{n % 3}", "shared"]))
        kind = draw(st.sampled_from(list(RecordKind)))
        payload = draw(st.one_of(st.binary(max_size=60), st.just(b"")))
        chunk_bytes = draw(st.sampled_from([3, 9, 30, 147_000, 147_000, 147_000]))
        bodies = encode(
            record_id, kind, payload, emitted_at=EMITTED, params=ChunkingParams(chunk_bytes, draw(st.integers(1, 8)))
        )
        if len(bodies) > 1 and draw(st.booleans()):
            bodies = draw(st.permutations(bodies))
        if draw(st.integers(0, 3)) == 0:
            bodies = bodies[: draw(st.integers(0, len(bodies)))]  # some chunks never arrive
        for body in bodies:
            if draw(st.integers(0, 5)) == 0:
                body = _corrupt(draw, body)  # in place of the good one
            events.append((partition, body))
            if draw(st.integers(0, 6)) == 0:
                events.append((partition, body))  # an exact duplicate
            if draw(st.integers(0, 6)) == 0:
                events.append((partition, _corrupt(draw, body)))
    position = draw(st.lists(st.integers(0, 10**6), min_size=len(events), max_size=len(events)))
    events = [e for _, e in sorted(zip(position, events, strict=True), key=lambda p: p[0])]
    out: list[tuple[bytes, EventMeta]] = []
    seq = {p: 0 for p in PARTITIONS}
    clock = BASE_TIME
    for partition, body in events:
        clock += draw(st.sampled_from([timedelta(0), timedelta(seconds=1), timedelta(minutes=20)]))
        seq[partition] += 1
        key = None
        if draw(st.integers(0, 4)) == 0:
            key = json.loads(body)["record_id"] if draw(st.booleans()) and _is_json_object(body) else "other"
        out.append((body, EventMeta(partition, seq[partition], str(seq[partition] * 7), clock, key)))
    return out


def _is_json_object(body: bytes) -> bool:
    try:
        obj = json.loads(body)
    except ValueError:
        return False
    return isinstance(obj, dict) and isinstance(obj.get("record_id"), str)


def _state(r: Reassembler) -> object:
    return (
        dict(r.stats),
        r.pending_bytes,
        r.pending_records,
        list(r._pending),
        list(r._recent.items()),
        dict(r._stream_time),
        [r.low_watermark(p) for p in PARTITIONS],
    )


def _config(draw: st.DrawFn) -> ReassemblerConfig:
    return ReassemblerConfig(
        ttl=timedelta(minutes=15),
        max_pending_bytes=draw(st.sampled_from([40, 200, 10**9])),
        max_record_bytes=draw(st.sampled_from([0, 10, 10**6])),
        completed_memory=draw(st.sampled_from([1, 3, 100_000])),
    )


@PROPERTY
@given(data=st.data())
def test_feed_many_equals_feed_event_by_event(data):
    stream = data.draw(streams())
    config = _config(data.draw)
    one, many = Reassembler(config), Reassembler(config)
    expected = [one.feed(body, meta) for body, meta in stream]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    got = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got.extend(many.feed_many([b for b, _ in stream[start:stop]], [m for _, m in stream[start:stop]]))
    assert got == expected
    assert _state(many) == _state(one)


def test_feed_many_completes_canonical_single_chunks_and_still_verifies_them():
    payloads = [f'{{"n":{i}}}'.encode() for i in range(6)]
    bodies = [encode(f"r{i}", RecordKind.USAGE, p, emitted_at=EMITTED)[0] for i, p in enumerate(payloads)]
    sha = json.loads(bodies[5])["sha256"]
    bodies[5] = bodies[5].replace(sha.encode(), ("0" if sha[0] != "0" else "1").encode() + sha[1:].encode())
    metas = [EventMeta("0", i, str(i), BASE_TIME + timedelta(seconds=i)) for i in range(7)]
    r = Reassembler()
    out = r.feed_many([*bodies, bodies[0]], metas)
    assert [o[0].payload for o in out[:5]] == payloads[:5]
    assert [o[0].first for o in out[:5]] == metas[:5]
    assert [o.reason.value for o in out[5]] == ["checksum_mismatch"]
    assert out[6] == []  # a duplicate of a record completed recently
    assert (r.stats["events"], r.stats["completed"], r.stats["duplicates_ignored"]) == (7, 5, 1)
