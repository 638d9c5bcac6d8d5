"""Messages that once stopped a partition for good (issue 13): each now ends as a row or a dead letter with its
reason, the records after it still land, and the checkpoint reaches the end of the stream."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from schemas.codec import encode
from tests.unit.consumer.streams import T0, Harness, Stream, read, rid, usage_record

DEEP = 20_000


def _payload(index: int, **changes: object) -> bytes:
    return json.dumps(usage_record(rid(index), index, **changes)).encode()


def _deep_member(index: int) -> bytes:
    """A valid usage record with an unknown member nested DEEP levels (about 40 KB)."""
    text = json.dumps(usage_record(rid(index), index))
    return (text[:-1] + ', "x": ' + "[" * DEEP + "]" * DEEP + "}").encode()


POISON: dict[str, tuple[bytes | None, str | None]] = {
    # name: (usage payload or None for a raw message below, the dead-letter reason or None for a row)
    "lone surrogate in a tag value": (_payload(1, tags={"team": "\ud800"}), "record_invalid"),
    "lone surrogate in a tag key": (_payload(1, tags={"\udfff": "x"}), "record_invalid"),
    "surrogate pair in a tag value": (_payload(1, tags={"team": "\ud83d\ude00"}), None),
    "year 0001 at +01:00": (_payload(1, event_time="0001-01-01T00:00:00+01:00"), "record_invalid"),
    "year 0001 at -01:00": (_payload(1, event_time="0001-01-01T00:00:00-01:00"), None),
    "year 9999 at -01:00": (_payload(1, event_time="9999-12-31T23:59:59-01:00"), "record_invalid"),
    "year 0000": (_payload(1, event_time="0000-01-01T00:00:00Z"), "record_invalid"),
    "hour 24": (_payload(1, event_time="2026-01-01T24:00:00Z"), "record_invalid"),
    "deeply nested unknown member": (_deep_member(1), "record_invalid"),
    "record_id with a lone surrogate (envelope)": (None, "envelope_invalid"),
    "record_id with a lone surrogate (unknown version)": (None, "unknown_version"),
    "body record with an impossible emitted_at": (None, "record_invalid"),
}


def _stream(case: str) -> Stream:
    stream = Stream()
    stream.add_usage(0)
    payload, _ = POISON[case]
    if payload is not None:
        for body in encode(rid(1), "usage", payload, emitted_at=T0):
            stream.add(body)
    elif case == "record_id with a lone surrogate (envelope)":
        stream.add(b'{"v":1,"record_id":"\\ud800","kind":"usage"}')
    elif case == "record_id with a lone surrogate (unknown version)":
        stream.add('{"v":2,"record_id":"\ud800x","kind":"usage"}'.encode("utf-8", "surrogatepass"))
    else:
        body = encode(rid(1), "response_body", b"hello", emitted_at=T0)[0]
        stream.add(body.replace(T0.strftime("%Y-%m-%dT%H").encode(), b"2026-13-45T99"))
    stream.add_usage(2)
    return stream


@pytest.mark.parametrize("case", sorted(POISON))
async def test_a_poison_message_ends_as_a_row_or_a_dead_letter_and_the_partition_goes_on(tmp_path, case):
    stream = _stream(case)
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt")
    await asyncio.wait_for(harness.run(stream), timeout=120)  # a storage retry loop would otherwise hang
    usage = {row["record_id"] for row in read(harness.lake, "usage")}
    dead = read(harness.lake, "dead_letters")
    assert {rid(0), rid(2)} <= usage
    _, reason = POISON[case]
    if reason is None:
        assert rid(1) in usage and not dead
    else:
        assert rid(1) not in usage
        assert [row["reason"] for row in dead] == [reason], dead
        assert dead[0]["detail"]
    checkpoint = await harness.checkpoint()
    assert checkpoint is not None and checkpoint.sequence_number == len(stream.events) - 1


def test_a_deeply_nested_member_never_reaches_arrows_json_reader(tmp_path):
    """In a child process: Arrow's reader crashes the process (SIGSEGV) on this input, which no test survives."""
    script = textwrap.dedent(
        """
        import json
        from consumer.columnar import usage_tables
        from tests.unit.consumer.test_columnar import _completed
        from tests.unit.consumer.test_poison import _deep_member, _payload
        from tests.unit.consumer.streams import rid
        records = [_completed(rid(0), _payload(0), 1), _completed(rid(1), _deep_member(1), 2)]
        tables, rejected = usage_tables(records)
        rows = sorted(r for t in tables.values() for r in t.column("record_id").to_pylist())
        print(json.dumps({"rows": rows, "rejected": [(d.record_id, d.reason.value) for d in rejected]}))
        """
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"rows": [rid(0)], "rejected": [[rid(1), "record_invalid"]]}
