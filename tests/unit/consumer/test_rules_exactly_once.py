"""Exactly-once rules of the partition loop and its flush state, one rule per test (issue 20).

The first is the data-loss rule: the checkpoint never passes `flushed_through`. Each test drives the public
pipeline (tests/unit/consumer/streams.py) on a real local lake and file checkpoint store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consumer.errors import CheckpointStoreError
from consumer.flush_state import FlushState, FlushStateStore
from consumer.lake_writer import file_stem
from consumer.rotation import RotationPolicy
from schemas.codec import encode
from schemas.lake import open_location
from tests.unit.consumer.streams import CG, HUB, NS, T0, Harness, Stream, params, read_column, rid, usage_record


def store(checkpoints: Path, consumer_group: str = CG, hub: str = HUB, namespace: str = NS) -> FlushStateStore:
    return FlushStateStore(open_location(str(checkpoints)), namespace, hub, consumer_group)


def usage_ids(lake: Path) -> list[str]:
    return sorted(read_column(lake, "usage", "record_id"))


def add_split_record(stream: Stream, index: int) -> list[int]:
    """A record in several chunks; returns the sequence numbers its chunks got (chunk order kept)."""
    record_id = rid(index)
    bodies = encode(
        record_id, "usage", json.dumps(usage_record(record_id, index)).encode(), emitted_at=T0, params=params(300)
    )
    assert len(bodies) > 1
    seqs = []
    for body in bodies:
        seqs.append(len(stream.events))
        stream.add(body)
    return seqs


@pytest.mark.parametrize("incomplete_tail", [False, True])
async def test_the_checkpoint_never_passes_flushed_through_so_a_crash_loses_no_row(tmp_path: Path, incomplete_tail):
    """THE data-loss rule: the checkpoint stays at or before `flushed_through`. A cut announced ahead (pending_through
    by a crashed run or another owner) holds the batch back; checkpointing past it and then crashing would lose those
    rows, because the successor starts after the checkpoint and nobody has written them."""
    stream = Stream()
    ids = [stream.add_usage(i) for i in range(8)]  # sequence numbers 0..7, one event per record
    if incomplete_tail:
        add_split_record(stream, 8)  # its first chunk at 8 holds the decoder's watermark back
    # A previous owner flushed events 0..1 and announced a cut at 20 before dying.
    previous = store(tmp_path / "cp")
    previous.save_sync("0", FlushState(flushed_through=1, pending_through=20))
    harness = Harness(tmp_path / "lake", tmp_path / "cp")
    await harness.run(stream, stop_after=len(stream.events) - 1 if incomplete_tail else None, flush=True)
    state = previous.load_sync("0")
    checkpoint = await harness.checkpoint()
    assert checkpoint is None or checkpoint.sequence_number <= state.flushed_through
    # The successor must find every record the previous owner had not written.
    more = Stream(events=list(stream.events))
    for i in range(9, 30):
        more.add_usage(i)
    await Harness(tmp_path / "lake", tmp_path / "cp").run(more)
    expected = set(ids[2:]) | {rid(i) for i in range(9, 30)} | ({rid(8)} if incomplete_tail else set())
    assert set(usage_ids(tmp_path / "lake")) == expected


class Crash(BaseException):
    """The process dying: nothing after it runs (not an Exception, so no handler turns it into a retry)."""


async def test_a_crash_between_files_and_commit_is_replayed_to_the_same_files_and_then_committed(
    tmp_path: Path, monkeypatch
):
    """Write-ahead: a batch's files are written after `pending_through`; if the process dies before `flushed_through`
    and the checkpoint, the replay cuts at the same event, rewrites the same file names with the same rows, and then
    records `flushed_through` and checkpoints."""
    stream = Stream()
    ids = [stream.add_usage(i) for i in range(12)]
    lake, cp = tmp_path / "lake", tmp_path / "cp"
    real_save = FlushStateStore.save

    async def dying_save(self, partition, state, on_failure=None):
        if state.pending_through is None and state.flushed_through is not None:
            raise Crash
        await real_save(self, partition, state, on_failure)

    monkeypatch.setattr(FlushStateStore, "save", dying_save)
    with pytest.raises(Crash):
        await Harness(lake, cp).run(stream)
    monkeypatch.setattr(FlushStateStore, "save", real_save)
    announced = store(cp).load_sync("0")
    assert announced == FlushState(flushed_through=None, pending_through=11)
    first_files = sorted(p.relative_to(lake) for p in lake.glob("usage/**/*.parquet"))
    assert first_files
    fresh = Harness(lake, cp)
    fresh.build()
    assert await fresh.checkpoint() is None
    for path in lake.glob("usage/**/*.parquet"):
        path.unlink()  # prove the replay writes them again rather than finding them there

    harness = Harness(lake, cp)
    await harness.run(stream)
    assert sorted(p.relative_to(lake) for p in lake.glob("usage/**/*.parquet")) == first_files
    assert usage_ids(lake) == sorted(ids)
    assert store(cp).load_sync("0") == FlushState(flushed_through=11, pending_through=None)
    checkpoint = await harness.checkpoint()
    assert checkpoint is not None and checkpoint.sequence_number == 11


async def test_a_replay_commits_the_announced_batch_when_it_reads_its_last_event(tmp_path: Path, monkeypatch):
    """The replay cuts at the announced `pending_through` as soon as it reads that event, whatever its own rotation
    policy says: the crashed batch is committed then, not left pending until some later idle flush or rotation."""
    stream = Stream()
    [stream.add_usage(i) for i in range(12)]
    lake, cp = tmp_path / "lake", tmp_path / "cp"
    real_save = FlushStateStore.save

    async def dying_save(self, partition, state, on_failure=None):
        if state.pending_through is None and state.flushed_through is not None:
            raise Crash
        await real_save(self, partition, state, on_failure)

    monkeypatch.setattr(FlushStateStore, "save", dying_save)
    with pytest.raises(Crash):
        await Harness(lake, cp, policy=RotationPolicy(max_rows=5)).run(stream)  # cuts after seq 4, dies at commit
    monkeypatch.setattr(FlushStateStore, "save", real_save)
    assert store(cp).load_sync("0") == FlushState(flushed_through=None, pending_through=4)
    # the replay runs with a larger batch and dies again before any idle flush
    await Harness(lake, cp, policy=RotationPolicy(max_rows=50)).run(stream, flush=False)
    assert store(cp).load_sync("0") == FlushState(flushed_through=4, pending_through=None)
    assert [p.stem for p in lake.glob("usage/**/*.parquet")] == [file_stem("usage", HUB, "0", 0, 4)]


async def test_a_replay_skips_output_up_to_flushed_through(tmp_path: Path):
    """Output of events up to `flushed_through` is in the lake already: a replay from an older checkpoint drops it,
    and writes what comes after."""
    stream = Stream()
    ids = [stream.add_usage(i) for i in range(10)]
    store(tmp_path / "cp").save_sync("0", FlushState(flushed_through=5))
    await Harness(tmp_path / "lake", tmp_path / "cp").run(stream)
    assert usage_ids(tmp_path / "lake") == sorted(ids[6:])


def test_an_empty_flush_state_file_is_a_write_in_progress_not_no_state(tmp_path: Path):
    """An empty flush-state file (a writer caught mid-publish, or a truncated blob) must not read as "nothing was
    ever flushed": that would rewrite and double-count everything from the checkpoint on. It is retried."""
    states = store(tmp_path)
    states.save_sync("0", FlushState(flushed_through=3))
    path = Path(states._path("0"))
    path.write_bytes(b"")
    with pytest.raises(OSError, match="being written"):
        states.load_sync("0")
    with pytest.raises(CheckpointStoreError, match="unreadable flush state b''"):
        FlushState.from_json(b"")


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"null",
        b"[]",
        b'{"flushed_through": "3"}',
        b'{"flushed_through": 3.0}',
        b'{"flushed_through": true}',
        b"not json",
    ],
)
def test_a_flush_state_that_is_not_an_object_of_integers_is_refused(body: bytes):
    """Only `{"flushed_through": int|null, "pending_through": int|null}` is a flush state; anything else is an error
    (`{}` is the one empty state written by nobody: read as no state)."""
    if body == b"{}":
        assert FlushState.from_json(body) == FlushState()
        return
    with pytest.raises(CheckpointStoreError, match="unreadable flush state") as caught:
        FlushState.from_json(body)
    if body.startswith(b'{"flushed_through"'):
        assert "is not an integer" in str(caught.value)


def test_a_missing_flush_state_file_is_no_state_and_a_saved_one_round_trips(tmp_path: Path):
    """No file: nothing flushed yet. A saved state reads back exactly."""
    states = store(tmp_path)
    assert states.load_sync("0") == FlushState()
    states.save_sync("0", FlushState(flushed_through=7, pending_through=9))
    assert store(tmp_path).load_sync("0") == FlushState(flushed_through=7, pending_through=9)
    assert FlushState.from_json(FlushState(0, None).to_json()) == FlushState(0, None)


def test_consumer_groups_hubs_and_namespaces_do_not_share_a_flush_state(tmp_path: Path):
    """Each consumer group reads the hub on its own: one group's flushed_through must never make another skip
    events. Likewise per hub and per namespace (names compared case-insensitively, as Event Hubs does)."""
    store(tmp_path).save_sync("0", FlushState(flushed_through=41))
    assert store(tmp_path, consumer_group="reporting").load_sync("0") == FlushState()
    assert store(tmp_path, hub="other").load_sync("0") == FlushState()
    assert store(tmp_path, namespace="other.test").load_sync("0") == FlushState()
    assert store(tmp_path).load_sync("1") == FlushState()
    assert store(tmp_path, consumer_group=CG.upper(), hub=HUB.upper(), namespace=NS.upper()).load_sync("0") == (
        FlushState(flushed_through=41)
    )


async def test_two_consumer_groups_each_write_every_record(tmp_path: Path):
    """Two consumer groups over one checkpoint location each write the whole stream to their own lake."""
    stream = Stream()
    ids = [stream.add_usage(i) for i in range(6)]
    await Harness(tmp_path / "lake-a", tmp_path / "cp").run(stream)
    # the second group: same checkpoint location, another consumer group name
    import tests.unit.consumer.streams as streams

    original = streams.CG
    try:
        streams.CG = "reporting"
        await Harness(tmp_path / "lake-b", tmp_path / "cp").run(stream)
    finally:
        streams.CG = original
    assert usage_ids(tmp_path / "lake-a") == sorted(ids)
    assert usage_ids(tmp_path / "lake-b") == sorted(ids)


def test_the_flush_state_file_sits_under_flushstate_source_namespace_hub_group_lower_cased(tmp_path: Path):
    """<checkpoint location>/flushstate/<source>/<namespace>/<hub>/<consumer group>/<partition>.json (names
    lower-cased): the source keeps the usage hub's and the LLM-log hub's states apart whatever their hubs are called."""
    store(tmp_path, consumer_group="$Default", hub="Usage", namespace="Local.Test").save_sync("3", FlushState(5))
    path = tmp_path / "flushstate" / "usage" / "local.test" / "usage" / "$default" / "3.json"
    assert FlushState.from_json(path.read_bytes()) == FlushState(flushed_through=5)
    logs = FlushStateStore(open_location(str(tmp_path)), "Local.Test", "Usage", "$Default", source="llm_log")
    logs.save_sync("3", FlushState(9))
    log_path = tmp_path / "flushstate" / "llm_log" / "local.test" / "usage" / "$default" / "3.json"
    assert FlushState.from_json(log_path.read_bytes()) == FlushState(flushed_through=9)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json")) == sorted(
        p.relative_to(tmp_path) for p in (path, log_path)
    )
    assert (
        store(tmp_path, consumer_group="$Default", hub="Usage", namespace="Local.Test").load_sync("3").flushed_through
        == 5
    )


def test_an_upgraded_consumer_finds_the_flush_state_written_before_the_source_was_in_the_key(tmp_path: Path):
    """The layout is a compatibility promise: the usage source's states used to sit at
    flushstate/<namespace>/<hub>/<consumer group>/<partition>.json. An upgraded consumer reads such a state (else it
    would rewrite everything between the checkpoint and `flushed_through`), writes the new key, which then wins;
    the LLM-log source, which never had the old key, does not read it."""
    legacy = tmp_path / "flushstate" / "local.test" / "usage" / "$default" / "3.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(FlushState(flushed_through=7, pending_through=9).to_json())
    states = store(tmp_path, consumer_group="$Default", hub="Usage", namespace="Local.Test")
    assert states.load_sync("3") == FlushState(flushed_through=7, pending_through=9)
    logs = FlushStateStore(open_location(str(tmp_path)), "Local.Test", "Usage", "$Default", source="llm_log")
    assert logs.load_sync("3") == FlushState()
    states.save_sync("3", FlushState(flushed_through=9))
    assert states.load_sync("3") == FlushState(flushed_through=9)


async def test_an_empty_flush_state_is_retried_until_written_and_each_failure_is_counted(tmp_path: Path):
    """Reading an empty (being written) flush state retries, reporting each failed attempt to `on_failure` (the
    storage-failure metric), until the writer has published it."""
    states = store(tmp_path)
    states.save_sync("0", FlushState(flushed_through=3))
    path = Path(states._path("0"))
    path.write_bytes(b"")
    failures = []

    def on_failure() -> None:
        failures.append(1)
        path.write_bytes(FlushState(flushed_through=9).to_json())

    assert await states.load("0", on_failure=on_failure) == FlushState(flushed_through=9)
    assert failures == [1]


async def test_a_failed_flush_state_write_is_retried_and_counted(tmp_path: Path, monkeypatch):
    """A storage failure while saving the flush state is retried (never skipped) and reported to `on_failure`."""
    states = store(tmp_path)
    real = FlushStateStore.save_sync
    calls = []

    def flaky(self, partition, state):
        calls.append(state)
        if len(calls) == 1:
            raise OSError("storage unavailable")
        real(self, partition, state)

    monkeypatch.setattr(FlushStateStore, "save_sync", flaky)
    failures = []
    await states.save("0", FlushState(flushed_through=4), on_failure=lambda: failures.append(1))
    assert failures == [1] and len(calls) == 2
    assert states.load_sync("0") == FlushState(flushed_through=4)


def test_an_unreadable_flush_state_error_quotes_at_most_200_bytes_of_it():
    """The error names what it could not read, bounded: at most 200 bytes of the stored (untrusted) content."""
    data = b"z" * 300
    with pytest.raises(CheckpointStoreError) as caught:
        FlushState.from_json(data)
    assert repr(data[:200]) in str(caught.value)


def test_finished_records_round_trip_through_the_flush_state():
    """The straddling records a flush state carries come back exactly: id, kind and both sequence numbers."""
    from consumer.checkpoint_rule import FinishedRecord

    state = FlushState(7, None, (FinishedRecord("r-1", "usage", 3, 9), FinishedRecord("r-2", "body", 5, 6)))
    assert FlushState.from_json(state.to_json()) == state
    assert FlushState.from_json(b'{"flushed_through":7,"finished":[["r","usage",3,9]]}').finished == (
        FinishedRecord("r", "usage", 3, 9),
    )


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ('"abcd"', "is not [record_id, kind, first, last]"),
        ('["r", "usage", 3]', "is not [record_id, kind, first, last]"),
        ('[1, "usage", 3, 9]', "is not [record_id, kind, first, last]"),
        ('["r", 2, 3, 9]', "is not [record_id, kind, first, last]"),
        ('["r", "usage", "3", 9]', "'3' is not an integer"),
        ('["r", "usage", 3, 9.0]', "9.0 is not an integer"),
    ],
)
def test_a_malformed_finished_record_makes_the_flush_state_unreadable(entry: str, says: str):
    """Each finished record is exactly [record_id: str, kind: str, first: int, last: int]; anything else is an
    unreadable flush state that says what is wrong, never a record with a guessed field."""
    with pytest.raises(CheckpointStoreError, match="unreadable flush state") as caught:
        FlushState.from_json(f'{{"flushed_through": 1, "finished": [{entry}]}}'.encode())
    assert says in str(caught.value)
