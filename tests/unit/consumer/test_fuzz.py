"""Consumer-level fuzzing (issue 13): hostile but well-formed envelopes and records through the real consumer path
(Pipeline, the real reassembler, the columnar converter with its pydantic fallback, the lake writer on a local
lake, the file checkpoint store), sometimes with a crash and restart in the middle. The consumer never stops,
every input ends as a row or a dead letter at its own stream coordinates, nothing is written twice, and the
checkpoint reaches the end of the stream. The hub itself is fuzzed (fewer examples) in
tests/integration/consumer/test_fuzz_hub.py."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.columnar import usage_tables
from consumer.rows import usage_tables_slow
from schemas.codec import encode
from schemas.envelope import RecordKind
from schemas.reassembler import CompletedRecord, EventMeta, ReassemblerConfig
from tests.unit.consumer.hostile import Item, streams, usage_payloads
from tests.unit.consumer.streams import T0, Harness, Stream, read, usage_record

TICK_ID = "fuzz-tick"


def build_stream(items: list[Item]) -> tuple[Stream, dict[str, list[int]]]:
    """The items' messages in order, then a usage record two hours later (it expires anything left incomplete);
    returns each item's sequence numbers."""
    stream = Stream()
    seqs: dict[str, list[int]] = {}
    for item in items:
        for body in item.bodies:
            seqs.setdefault(item.record_id, []).append(len(stream.events))
            stream.add(body)
    tick = json.dumps(usage_record(TICK_ID, 0)).encode()
    for body in encode(TICK_ID, "usage", tick, emitted_at=T0):
        seqs.setdefault(TICK_ID, []).append(len(stream.events))
        stream.add(body, seconds=7200 + len(stream.events))
    return stream, seqs


def account(lake: Path, seqs: dict[str, list[int]]) -> list[str]:
    """Problems found: items with neither a row nor a dead letter at one of their messages, rows written twice."""
    problems = []
    rows = read(lake, "usage") + read(lake, "payloads")
    dead = read(lake, "dead_letters")
    row_keys = [(r["record_id"], r.get("part")) for r in rows]
    if len(row_keys) != len(set(row_keys)):
        problems.append(f"rows written twice: {sorted(row_keys)}")
    row_seqs = {r["eh_sequence_number"] for r in rows}
    dead_seqs = {d["sequence_number"] for d in dead}
    for record_id, numbers in seqs.items():
        if not (set(numbers) & (row_seqs | dead_seqs)):
            problems.append(f"{record_id} at {numbers}: neither a row nor a dead letter")
    return problems


async def _consume(items: list[Item], work: Path, restart_at: int | None, batch_size: int) -> list[str]:
    stream, seqs = build_stream(items)
    harness = Harness(
        work / "lake",
        work / "ckpt",
        config=ReassemblerConfig(ttl=timedelta(minutes=15)),
        batch_size=batch_size,
    )
    if restart_at is not None:
        await harness.run(stream, stop_after=min(restart_at, len(stream.events)), flush=False)
    await harness.run(stream)
    problems = account(harness.lake, seqs)
    checkpoint = await harness.checkpoint()
    if checkpoint is None or checkpoint.sequence_number != len(stream.events) - 1:
        problems.append(f"checkpoint {checkpoint} is not at the last event {len(stream.events) - 1}")
    return problems


async def _bounded(work: Awaitable[list[str]]) -> list[str]:
    """A consumer stuck retrying (a dead letter it cannot write) is a failure, not a hang."""
    try:
        return await asyncio.wait_for(work, timeout=60)
    except TimeoutError:
        return ["the consumer did not finish within 60 s (stuck retrying?)"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(streams(), st.one_of(st.none(), st.integers(1, 12)), st.sampled_from([1, 3, 50]))
def test_hostile_input_never_stops_the_consumer_and_every_input_is_accounted_for(items, restart_at, batch_size):
    with tempfile.TemporaryDirectory() as work:
        problems = asyncio.run(_bounded(_consume(items, Path(work), restart_at, batch_size)))
    assert not problems, [(item.name, item.record_id) for item in items] + problems


def _completed(record_id: str, payload: bytes, seq: int) -> CompletedRecord:
    meta = EventMeta("0", seq, str(seq * 10 + 3), T0)
    return CompletedRecord(record_id, RecordKind.USAGE, payload, len(payload), "application/json", "", meta, seq)


def _canonical(tables: dict, rejected: list) -> tuple[list, list]:
    rows = sorted(((hour.isoformat(), r) for hour, t in tables.items() for r in t.to_pylist()), key=str)
    return rows, sorted((d.record_id, d.reason.value, d.detail) for d in rejected)


@st.composite
def _batches(draw: st.DrawFn) -> list[CompletedRecord]:
    count = draw(st.integers(1, 6))
    out = []
    for i in range(count):
        record_id = f"fuzz-{i:05d}"
        _, payload = draw(usage_payloads(record_id, i))
        out.append(_completed(record_id, payload, i + 1))
    return out


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(_batches())
def test_the_columnar_path_and_the_models_agree_on_hostile_records(records):
    """Row for row and dead letter for dead letter, extremes included (in-process: deep members never reach
    Arrow's reader)."""
    assert _canonical(*usage_tables(records)) == _canonical(*usage_tables_slow(records))


def worst_cases() -> list[Item]:
    """What stopped a partition for good before issue 13, one of each."""
    deep = json.dumps(usage_record("fuzz-00000", 0))[:-1] + ', "x": ' + "[" * 20_000 + "]" * 20_000 + "}"
    surrogate = json.dumps(usage_record("fuzz-00001", 1, tags={"t": "\ud800"}))
    calendar = json.dumps(usage_record("fuzz-00002", 2, event_time="0001-01-01T00:00:00+01:00"))
    return [
        Item("deep", encode("fuzz-00000", "usage", deep.encode(), emitted_at=T0), "fuzz-00000"),
        Item("surrogate", encode("fuzz-00001", "usage", surrogate.encode(), emitted_at=T0), "fuzz-00001"),
        Item("calendar", encode("fuzz-00002", "usage", calendar.encode(), emitted_at=T0), "fuzz-00002"),
        Item("rid", [b'{"v":1,"record_id":"\\ud800"}'], "fuzz-00003"),
    ]


def test_the_worst_cases_are_accounted_for():
    with tempfile.TemporaryDirectory() as work:
        assert asyncio.run(_bounded(_consume(worst_cases(), Path(work), None, 2))) == []
