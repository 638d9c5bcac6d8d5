"""The pipeline fed directly with envelopes: real local lake, real file checkpoint store, DuckDB to read back."""

from __future__ import annotations

import json

import pytest

from consumer.flush_state import FlushState, FlushStateStore
from consumer.rotation import RotationPolicy
from schemas.codec import encode
from schemas.lake import open_location
from schemas.reassembler import ReassemblerConfig
from tests.unit.consumer.streams import CG, HUB, NS, T0, Harness, Stream, params, read, read_column, rid, usage_record


def _mixed_stream(n: int = 120) -> tuple[Stream, list[str]]:
    """Usage records interleaved with multi-chunk bodies, one body split across many events."""
    stream = Stream()
    ids = []
    for i in range(n):
        ids.append(stream.add_usage(i))
        if i % 10 == 3:
            body = (f"response {i} " * 200).encode()
            for chunk in encode(
                rid(i), "response_body", body, emitted_at=T0, content_type="text/plain", params=params(chunk_bytes=600)
            ):
                stream.add(chunk)
    return stream, ids


async def test_usage_and_bodies_round_trip_exactly(tmp_path):
    stream, ids = _mixed_stream()
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt")
    await harness.run(stream)
    rows = read_column(harness.lake, "usage", "record_id")
    assert sorted(rows) == sorted(ids)
    expected = usage_record(ids[7], 7)
    con_rows = read(harness.lake, "usage")
    by_id = {r["record_id"]: r for r in con_rows}
    row = by_id[ids[7]]
    for key in ("status_code", "prompt_tokens", "completion_tokens", "deployment", "subscription_id", "stream"):
        assert row[key] == expected[key], key
    assert row["tags"] == list(expected["tags"].items())
    assert row["event_time"].isoformat() == expected["event_time"]
    assert row["eh_partition"] == "0" and row["eh_offset"] != str(row["eh_sequence_number"])
    bodies = read_column(harness.lake, "payloads", "body")
    assert sorted(bodies) == sorted((f"response {i} " * 200) for i in range(120) if i % 10 == 3)
    assert read(harness.lake, "dead_letters") == []
    checkpoint = await harness.checkpoint()
    assert checkpoint is not None and checkpoint.sequence_number == len(stream.events) - 1
    assert checkpoint.offset == stream.events[-1].offset


async def test_files_are_named_from_stream_coordinates_in_hive_layout(tmp_path):
    stream, _ = _mixed_stream(60)
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt")
    await harness.run(stream)
    names = sorted(p.relative_to(harness.lake).as_posix() for p in harness.lake.rglob("*.parquet"))
    assert names, "nothing written"
    for name in names:
        table, date, hour, file = name.split("/")
        assert table in ("usage", "payloads")
        assert date.startswith("event_date=2026-11-27") and hour.startswith("event_hour=")
        assert file.startswith(f"usage-{HUB}-p0-") and file.endswith(".parquet")
    assert not list(harness.lake.rglob("*.tmp-*"))


@pytest.mark.parametrize("crash_at", [5, 33, 34, 61, 90, 117])
async def test_crash_and_replay_write_every_record_exactly_once(tmp_path, crash_at):
    stream, ids = _mixed_stream()
    reference = Harness(tmp_path / "ref-lake", tmp_path / "ref-ckpt")
    await reference.run(stream)
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt")
    await harness.run(stream, stop_after=crash_at, flush=False)  # killed: no flush, no checkpoint on the way out
    await harness.run(stream)
    assert sorted(read_column(harness.lake, "usage", "record_id")) == sorted(ids)
    assert len(read_column(harness.lake, "payloads", "record_id")) == 12
    ref_files = sorted(p.relative_to(reference.lake) for p in reference.lake.rglob("*.parquet"))
    files = sorted(p.relative_to(harness.lake) for p in harness.lake.rglob("*.parquet"))
    assert set(ref_files) <= set(files)


async def test_replay_after_a_crash_between_files_and_commit_rewrites_the_same_files(tmp_path):
    stream, ids = _mixed_stream(80)
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt", policy=RotationPolicy(max_rows=1000))
    await harness.run(stream)
    files = sorted(p.relative_to(harness.lake) for p in harness.lake.rglob("*.parquet"))
    # Simulate a death after the files but before the commit: the state still says "pending".
    states = FlushStateStore(open_location(str(harness.checkpoints)), NS, HUB, CG)
    states.save_sync("0", FlushState(flushed_through=None, pending_through=len(stream.events) - 1))
    (harness.checkpoints / NS / HUB / CG.lower() / "checkpoint" / "0").unlink()
    await harness.run(stream)
    assert sorted(p.relative_to(harness.lake) for p in harness.lake.rglob("*.parquet")) == files
    assert sorted(read_column(harness.lake, "usage", "record_id")) == sorted(ids)


async def test_checkpoint_stays_before_the_first_chunk_of_an_incomplete_record(tmp_path):
    stream = Stream()
    stream.add_usage(0)
    chunks = encode(rid(99), "request_body", b"x" * 900, emitted_at=T0, params=params())
    stream.add(chunks[0])  # seq 1: first chunk of a record that will not complete in this run
    for i in range(1, 5):
        stream.add_usage(i)
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt")
    await harness.run(stream)
    checkpoint = await harness.checkpoint()
    assert checkpoint is not None and checkpoint.sequence_number == 0 and checkpoint.offset == stream.events[0].offset
    assert len(read_column(harness.lake, "usage", "record_id")) == 5
    for chunk in chunks[1:]:
        stream.add(chunk)
    await harness.run(stream)
    assert len(read_column(harness.lake, "usage", "record_id")) == 5, "usage rows re-read but not rewritten"
    assert read_column(harness.lake, "payloads", "record_id") == [rid(99)]
    assert (await harness.checkpoint()).sequence_number == len(stream.events) - 1


async def test_a_cut_inside_a_delivered_batch_checkpoints_before_records_completed_after_it(tmp_path):
    """The decoder reads a whole delivered batch before the batch is cut: a record pending at the cut but completed
    later in the same delivery must still hold the checkpoint back, or a crash would lose its first chunk."""
    stream = Stream()
    early = encode(rid(90), "request_body", b"r" * 900, emitted_at=T0, content_type="text/plain", params=params())
    late = encode(rid(91), "request_body", b"q" * 900, emitted_at=T0, content_type="text/plain", params=params())
    stream.add_usage(0)  # seq 0
    stream.add(early[0])  # seq 1: pending at the cut, completed after it
    stream.add_usage(1)  # seq 2
    stream.add(late[0])  # seq 3: still pending when the delivery ends
    for i in range(2, 6):
        stream.add_usage(i)  # seq 4-7: the fifth row (seq 6) cuts the batch
    for chunk in early[1:]:
        stream.add(chunk)
    for i in range(6, 8):
        stream.add_usage(i)  # not enough rows for a second cut
    delivered = len(stream.events)
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt", policy=RotationPolicy(max_rows=5), batch_size=100)
    await harness.run(stream, flush=False)  # one delivery, then killed
    checkpoint = await harness.checkpoint()
    assert checkpoint is not None and checkpoint.sequence_number == 0
    for chunk in late[1:]:
        stream.add(chunk)
    await harness.run(stream)
    assert sorted(read_column(harness.lake, "payloads", "record_id")) == [rid(90), rid(91)]
    assert sorted(read_column(harness.lake, "usage", "record_id")) == sorted(rid(i) for i in range(8))
    assert read(harness.lake, "dead_letters") == []
    assert (await harness.checkpoint()).sequence_number == len(stream.events) - 1 > delivered


async def test_pending_bytes_over_the_cap_dead_letter_the_oldest_record(tmp_path):
    stream = Stream()
    first = encode(rid(1), "request_body", b"a" * 3000, emitted_at=T0, params=params())
    second = encode(rid(2), "request_body", b"b" * 3000, emitted_at=T0, params=params())
    for body in first[:-1] + second:
        stream.add(body)
    stream.add(first[-1])
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt", config=ReassemblerConfig(max_pending_bytes=4000))
    await harness.run(stream)
    reasons = read_column(harness.lake, "dead_letters", "reason")
    assert set(reasons) == {"pending_bytes_exceeded"} and len(reasons) == len(first) - 1
    assert read_column(harness.lake, "payloads", "record_id") == [rid(2)]


async def test_columnar_and_pydantic_paths_agree(tmp_path):
    stream = Stream()
    ids = [stream.add_usage(i) for i in range(30)]
    stream.add_usage(30, status_code="201")  # lax pydantic accepts a numeric string: the fast path must too
    stream.add_usage(31, event_time="2026-11-27T10:00:00")  # naive time: rejected by the contract
    stream.add_usage(32, usage_source="missing")  # tokens with a source that has none: rejected
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt")
    await harness.run(stream)
    assert sorted(read_column(harness.lake, "usage", "record_id")) == sorted([*ids, rid(30)])
    assert sorted(read_column(harness.lake, "dead_letters", "record_id")) == sorted([rid(31), rid(32)])
    details = read_column(harness.lake, "dead_letters", "detail")
    assert any("event_time" in d for d in details)
    raw = read_column(harness.lake, "dead_letters", "raw_body")
    assert all(json.loads(bytes(r))["record_id"] in (rid(31), rid(32)) for r in raw)


async def test_a_second_owner_adopts_the_cut_announced_by_the_first(tmp_path):
    """A rebalance overlap: A announced and wrote a cut but died before committing it while B was reading the
    same events; B must cut at A's event (rewriting A's files), not at its own."""
    stream, ids = _mixed_stream(60)
    policy = RotationPolicy(max_rows=10_000)
    a = Harness(tmp_path / "lake", tmp_path / "ckpt", policy=policy)
    b = Harness(tmp_path / "lake", tmp_path / "ckpt", policy=policy)
    pa_, pb = a.build(), b.build()
    await pa_.open_partition("0", None)
    await pb.open_partition("0", None)
    half = len(stream.events) // 2
    await pa_.on_events("0", stream.events[:half])
    await pb.on_events("0", stream.events[: half - 5])
    await pa_.on_idle("0")  # A's idle cut: one the rotation policy would not make
    states = FlushStateStore(open_location(str(a.checkpoints)), NS, HUB, CG)
    states.save_sync("0", FlushState(flushed_through=None, pending_through=half - 1))  # A dies before committing
    await pb.on_idle("0")  # B has not reached A's cut: it must wait, not write a file of its own
    await pb.on_events("0", stream.events[half - 5 :])
    await pb.on_idle("0")
    await pb.close_partition("0", flush=True)
    assert sorted(read_column(a.lake, "usage", "record_id")) == sorted(ids)
