"""Clean restarts and takeovers (issue 13): after a restart no record already in the lake comes back as a dead
letter or holds the checkpoint back, and the processed position (so the lag) is known from the moment a
partition opens."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from consumer.sources import Position
from schemas.codec import encode
from schemas.reassembler import ReassemblerConfig
from tests.unit.consumer.streams import T0, Harness, Stream, params, read, read_column, rid

TTL = ReassemblerConfig(ttl=timedelta(minutes=15))


def _chunks(index: int, size: int = 900) -> list[bytes]:
    body = (f"body {index} " * size)[:size].encode()
    return encode(rid(index), "response_body", body, emitted_at=T0, content_type="text/plain", params=params(300))


def _tick(stream: Stream, index: int, hours: float = 2) -> None:
    """A usage record far later in event time: anything still incomplete has expired when it is read."""
    for body in encode(rid(index), "usage", _usage_payload(index), emitted_at=T0):
        stream.add(body, seconds=hours * 3600 + index)


def _usage_payload(index: int) -> bytes:
    import json

    from tests.unit.consumer.streams import usage_record

    return json.dumps(usage_record(rid(index), index)).encode()


async def test_a_record_completed_across_the_checkpoint_is_not_held_after_a_restart(tmp_path):
    """The issue's repro: A chunk 0, B chunk 0, A chunk 1 | restart | B chunk 1 (then a tick far later)."""
    a, b = _chunks(1, 600), _chunks(2, 600)
    assert len(a) == len(b) == 2
    stream = Stream()
    for body in (a[0], b[0], a[1], b[1]):
        stream.add(body)
    _tick(stream, 3)
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt", config=TTL, batch_size=1)
    await harness.run(stream, stop_after=3)  # a clean stop (flush, checkpoint before B chunk 0)
    assert (await harness.checkpoint()) == Position(0, stream.events[0].offset)
    await harness.run(stream)
    assert read(harness.lake, "dead_letters") == []
    assert sorted(read_column(harness.lake, "payloads", "record_id")) == [rid(1), rid(2)]
    assert read_column(harness.lake, "usage", "record_id") == [rid(3)]
    checkpoint = await harness.checkpoint()
    assert checkpoint is not None and checkpoint.sequence_number == len(stream.events) - 1


def _interleaved(seed: int, records: int = 12) -> tuple[Stream, list[str]]:
    """Multi-chunk bodies interleaved at random, single-chunk usage records between them, one tick at the end."""
    rng = random.Random(seed)
    queues = [_chunks(i, rng.choice([300, 600, 900, 1500])) for i in range(records)]
    stream = Stream()
    usage = records
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        stream.add(queue.pop(0))
        if rng.random() < 0.3:
            usage += 1
            for body in encode(rid(usage), "usage", _usage_payload(usage), emitted_at=T0):
                stream.add(body)
    _tick(stream, usage + 1)
    return stream, [rid(i) for i in range(records)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("flush", [True, False], ids=["stopped", "killed"])
async def test_restarts_anywhere_in_interleaved_records_leave_nothing_behind(tmp_path, seed, flush):
    stream, bodies = _interleaved(seed)
    rng = random.Random(seed)
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt", config=TTL, batch_size=rng.choice([1, 2, 5]))
    stops = sorted(rng.sample(range(2, len(stream.events) - 1), 3))
    for stop in stops:
        await harness.run(stream, stop_after=stop, flush=flush)
    await harness.run(stream)
    assert read(harness.lake, "dead_letters") == []
    assert sorted(read_column(harness.lake, "payloads", "record_id")) == sorted(bodies)
    usage = read_column(harness.lake, "usage", "record_id")
    assert len(usage) == len(set(usage))
    checkpoint = await harness.checkpoint()
    assert checkpoint is not None and checkpoint.sequence_number == len(stream.events) - 1


async def test_a_partition_opened_at_its_last_event_reports_no_lag(tmp_path):
    stream = Stream()
    for i in range(3):
        stream.add_usage(i)
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt")
    await harness.run(stream)
    last = stream.events[-1].sequence_number
    assert (await harness.checkpoint()).sequence_number == last
    restarted = Harness(tmp_path / "lake", tmp_path / "ckpt")
    pipeline = restarted.build()
    await pipeline.open_partition("0", await restarted.checkpoint())
    restarted.stats.last_enqueued_sequence["0"] = last  # what the lag poll reads from the hub
    assert restarted.stats.lag() == {"0": 0}
    await pipeline.on_idle("0")  # nothing arrives: still caught up
    assert restarted.stats.lag() == {"0": 0}
    await pipeline.close_partition("0", flush=False)  # taken over by another consumer: no stale lag stays
    assert restarted.stats.lag() == {}


async def test_a_partition_without_a_checkpoint_lags_by_everything_until_read(tmp_path):
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt")
    pipeline = harness.build()
    await pipeline.open_partition("0", None)
    harness.stats.last_enqueued_sequence["0"] = 4
    assert harness.stats.lag() == {"0": 5}
    harness.stats.last_enqueued_sequence["0"] = -1  # an empty partition
    assert harness.stats.lag() == {"0": 0}


async def test_an_opened_partition_whose_last_event_is_unknown_is_not_caught_up(tmp_path):
    """`--until-idle` must not take "not polled yet" for "no lag" (it exited before reading anything)."""
    harness = Harness(tmp_path / "lake", tmp_path / "ckpt")
    pipeline = harness.build()
    await pipeline.open_partition("0", Position(6, "99"))
    assert harness.stats.lag() == {} and not harness.stats.caught_up({"0"})
    harness.stats.last_enqueued_sequence["0"] = 7
    assert harness.stats.lag() == {"0": 1} and not harness.stats.caught_up({"0"})
    harness.stats.last_enqueued_sequence["0"] = 6
    assert harness.stats.caught_up({"0"})
    del harness.stats.last_enqueued_sequence["0"]  # the poll fails: an idle partition still counts as caught up
    assert not harness.stats.caught_up({"0"}) and harness.stats.caught_up({"0"}, idle={"0"})
