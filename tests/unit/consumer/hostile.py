"""Hypothesis strategies for hostile but well-formed input: usage records and envelopes a producer could send.

Each `Item` is what one input becomes on the wire (one or more message bodies); the fuzz tests check that every
item ends as a row or a dead letter at one of its messages' stream coordinates, and that nothing stops the
consumer. Deliberately wide: unicode edge cases (lone surrogates, NUL, BOM, line separators), extreme numbers
(2**63, 1e308, NaN), dates at the calendar's edges, unknown members nested up to 20,000 deep or thousands wide,
huge strings, duplicate keys, envelope members out of range.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import strategies as st

from schemas.codec import ChunkingParams, encode
from tests.unit.consumer.streams import T0, usage_record

SPECIAL_TEXT = [
    "\ud800",
    "\udfff",
    "a\udc80b",
    "\ud83d\ude00",
    "\x00",
    "\u2028\u2029",
    "\ufeff",
    "\uffff",
    "\u202e-rtl",
    "é" * 256,
    "x" * 257,
    '"quoted" \\ back',
    "",
]
EXTREME_NUMBERS = [0, -1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 10**30, 1e308, -0.0, 0.5, True, None]
TIMES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00-01:00",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999-01:00",
    "9999-12-31T23:59:59.999999+01:00",
    "1970-01-01T00:00:00Z",
    "2026-02-29T00:00:00Z",
    "2028-02-29T23:59:59.999999+23:59",
    "2026-11-27T24:00:00Z",
    "2026-11-27T23:59:60Z",
    "2026-11-27T10:00:00+24:00",
    "2026-11-27T10:00:00.1234567Z",
    "2026-11-27T10:00:00",
    "+002026-11-27T10:00:00Z",
    "2026-11-27T10:00:00z",
]


@dataclass
class Item:
    name: str
    bodies: list[bytes]
    record_id: str


def _unicode() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=40))


def _json_text(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


@st.composite
def usage_payloads(draw: st.DrawFn, record_id: str, index: int) -> tuple[str, bytes]:
    """(what was done, the payload): a usage record with a few hostile changes, serialized in a hostile way."""
    record: dict[str, object] = usage_record(record_id, index)
    done: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        change = draw(st.sampled_from(["time", "tag", "name", "number", "wide", "huge", "drop", "type"]))
        done.append(change)
        if change == "time":
            record["event_time"] = draw(st.sampled_from(TIMES))
        elif change == "tag":
            tags = dict(record["tags"]) if isinstance(record.get("tags"), dict) else {}  # type: ignore[call-overload]
            tags[draw(_unicode())] = draw(_unicode())
            record["tags"] = tags
        elif change == "name":
            record[draw(st.sampled_from(["deployment", "model", "client_ip", "error_code"]))] = draw(_unicode())
        elif change == "number":
            name = draw(st.sampled_from(["prompt_tokens", "cached_tokens", "status_code", "duration_ms"]))
            record[name] = draw(st.sampled_from(EXTREME_NUMBERS))
        elif change == "wide":
            width = draw(st.sampled_from([50, 500, 3000]))
            record["unknown_wide"] = {f"k{i}": i for i in range(width)}
        elif change == "huge":
            record[draw(st.sampled_from(["unknown_huge", "model"]))] = "h" * draw(st.sampled_from([300, 150_000]))
        elif change == "drop":
            record.pop(draw(st.sampled_from(sorted(record))), None)
        else:
            record[draw(st.sampled_from(["stream", "tags", "operation"]))] = draw(
                st.sampled_from([1, "true", [], {"a": {"b": 1}}, None])
            )
    text = _json_text(record) if draw(st.booleans()) else json.dumps(record)
    shape = draw(st.sampled_from(["plain", "plain", "deep", "duplicate", "duplicate_tags", "nan"]))
    if shape == "deep":
        depth = draw(st.sampled_from([40, 70, 900, 5000, 20_000]))
        text = text[:-1] + ', "unknown_deep": ' + "[" * depth + "]" * depth + "}"
    elif shape == "duplicate":
        text = '{"status_code": ' + str(draw(st.sampled_from([200, 999]))) + ", " + text[1:]
    elif shape == "duplicate_tags":
        text = text[:-1] + ', "tags": {"team": "x", "team": "y"}}'
    elif shape == "nan":
        text = text[:-1] + ', "prompt_tokens": NaN}'
    done.append(shape)
    return "+".join(done), text.encode("utf-8", "surrogatepass")


def _dump(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8", "surrogatepass")


@st.composite
def hostile_envelopes(draw: st.DrawFn, record_id: str) -> tuple[str, list[bytes]]:
    """One or two messages that break the envelope contract in some way (all become dead letters, or pending
    records that the final tick expires)."""
    payload = json.dumps(usage_record(record_id, 0)).encode()
    valid = json.loads(encode(record_id, "usage", payload, emitted_at=T0)[0])
    member = draw(st.sampled_from(sorted(valid)))
    value = draw(
        st.one_of(
            st.sampled_from(EXTREME_NUMBERS),
            _unicode(),
            st.sampled_from([[], {}, "not base64!", "QUFB" * 10, "0" * 64]),
        )
    )
    how = draw(st.sampled_from(["member", "member", "deep", "duplicate", "pending", "garbage"]))
    if how == "member":
        return f"envelope {member}={value!r:.40}", [_dump({**valid, member: value})]
    if how == "deep":
        depth = draw(st.sampled_from([100, 20_000]))
        return "envelope deep", [_dump(valid)[:-1] + b',"x":' + b"[" * depth + b"]" * depth + b"}"]
    if how == "duplicate":
        return "envelope duplicate key", [b'{"chunk_count":3,' + _dump(valid)[1:]]
    if how == "pending":
        data = base64.b64encode(b"abc").decode()
        first = {
            **valid,
            "chunk_count": 3,
            "total_bytes": 9,
            "original_bytes": 9,
            "sha256": hashlib.sha256(b"abcabcabc").hexdigest(),
            "data": data,
        }
        return "envelope incomplete", [_dump(first)]
    return "garbage", [draw(st.binary(max_size=300))]


@st.composite
def items(draw: st.DrawFn, index: int) -> Item:
    record_id = f"fuzz-{index:05d}"
    kind = draw(st.sampled_from(["usage", "usage", "usage", "usage-chunked", "body", "envelope"]))
    if kind == "envelope":
        name, bodies = draw(hostile_envelopes(record_id))
        return Item(name, bodies, record_id)
    if kind == "body":
        text = draw(st.one_of(st.text(max_size=2000), st.sampled_from(SPECIAL_TEXT)))
        body = text.encode("utf-8", "surrogatepass")
        emitted = draw(st.sampled_from([T0, T0 + timedelta(days=365 * 7000)]))
        bodies = encode(record_id, "response_body", body, emitted_at=emitted, params=ChunkingParams(300, 8))
        return Item("body", bodies, record_id)
    name, payload = draw(usage_payloads(record_id, index))
    params = ChunkingParams(3000, 8) if kind == "usage-chunked" else ChunkingParams(147_000, 8)
    return Item(name, encode(record_id, "usage", payload, emitted_at=T0, params=params), record_id)


@st.composite
def streams(draw: st.DrawFn, max_items: int = 8) -> list[Item]:
    count = draw(st.integers(1, max_items))
    return [draw(items(i)) for i in range(count)]
