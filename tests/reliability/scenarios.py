"""The fault scenarios as plain functions: tests/reliability/test_faults.py asserts on them and
bench/bench_reliability.py reports them. Each returns a `FaultReport` and the record sets behind it.

`hub` is a running local Event Hubs server (`running_localhub`), `work` an empty directory for the lake,
checkpoints and consumer logs, `azurite` a running Azurite (only for the Blob outage).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from tests.reliability.harness import (
    ConsumerEnv,
    FaultReport,
    Record,
    account,
    flush_rows_for,
    kill,
    make_records,
    route,
    send,
)

Outcome = tuple[FaultReport, dict[str, set[tuple[str, str]]]]


def local_env(hub: Any, work: Path, **extra: str) -> ConsumerEnv:
    (work / "logs").mkdir(parents=True, exist_ok=True)
    return ConsumerEnv(
        hub.connection_string("usage"), str(work / "lake"), str(work / "checkpoints"), extra=extra, logs=work / "logs"
    )


def clean_run(hub: Any, work: Path, count: int, seed: int = 10) -> Outcome:
    """The baseline: no fault at all."""
    started = time.perf_counter()
    records = make_records(count, seed=seed)
    send(hub.connection_string("usage"), route(records))
    env = local_env(hub, work)
    env.run_until_idle()
    return account("no fault (baseline)", records, env.lake_url, None, started)


def _wait_for_log(env: ConsumerEnv, name: str, text: str, proc: Any, timeout: float = 120) -> None:
    assert env.logs is not None
    log = env.logs / f"{name}.log"
    deadline = time.monotonic() + timeout
    while not (log.exists() and text in log.read_text(encoding="utf-8", errors="replace")):
        if proc.poll() is not None:
            raise AssertionError(f"the consumer exited {proc.returncode} before logging {text}; see {env.logs}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {text} in {log} after {timeout:.0f} s")
        time.sleep(0.05)


def _lake_files(work: Path) -> int:
    return sum(1 for _ in (work / "lake").rglob("*.parquet"))


def sigkill_ten_times(
    hub: Any, work: Path, count: int, seed: int = 11, *, kills: int = 10, progress_timeout: float = 120
) -> Outcome:
    """Each run is killed after it has written a random number (1-4) of new files and a random few milliseconds
    more, so every kill lands mid-run: between flushes, inside one, or between a flush and its checkpoint. The
    flush size scales with `count` (`flush_rows_for`), so there is always more to write than ten runs can reach.
    Whatever happens, no consumer is left running (`finally`)."""
    started = time.perf_counter()
    records = make_records(count, seed=seed)
    send(hub.connection_string("usage"), route(records))
    env = local_env(hub, work, CHARGEBACK_FLUSH_MAX_ROWS=str(flush_rows_for(count)))
    rng = random.Random(seed)
    progress = []
    for attempt in range(kills):
        target = _lake_files(work) + rng.randint(1, 4)
        proc = env.start(until_idle=None, name=f"killed-{attempt}")
        try:
            deadline = time.monotonic() + progress_timeout
            while _lake_files(work) < target:
                if proc.poll() is not None:
                    raise AssertionError(f"consumer exited by itself on attempt {attempt}; see {env.logs}")
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"no progress in {progress_timeout:.0f} s on attempt {attempt} (lake files at each kill: "
                        f"{progress}); see {env.logs}"
                    )
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.15))
        finally:
            kill(proc)
        progress.append(_lake_files(work))
    env.run_until_idle(name="final")
    return account(
        f"SIGKILL x{kills} mid-run", records, env.lake_url, None, started, notes=f"lake files at each kill: {progress}"
    )


def duplicated_and_reordered(hub: Any, work: Path, count: int, seed: int = 12) -> Outcome:
    started = time.perf_counter()
    records = make_records(count, seed=seed)
    rng = random.Random(seed)
    per_partition = route([])
    for record in records:
        chunks = list(record.envelopes)
        rng.shuffle(chunks)  # chunks of a record out of order
        per_partition[record.partition].extend(chunks)
    for stream in per_partition.values():
        for body in rng.sample(stream, len(stream) // 20):  # 5% of chunks delivered twice, later
            stream.insert(rng.randint(stream.index(body), len(stream)), body)
    for record in rng.sample(records, len(records) // 100):  # 1% of records redelivered whole
        per_partition[record.partition].extend(record.envelopes)
    send(hub.connection_string("usage"), per_partition)
    env = local_env(hub, work)
    env.run_until_idle()
    return account("duplicated + reordered", records, env.lake_url, None, started)


def one_percent_chunks_lost(hub: Any, work: Path, count: int, seed: int = 13) -> tuple[Outcome, set]:
    """1% of all chunks dropped, only from multi-chunk (body) records, each keeping at least one chunk."""
    started = time.perf_counter()
    records = make_records(count, seed=seed)
    rng = random.Random(seed)
    total_chunks = sum(len(r.envelopes) for r in records)
    multi = [r for r in records if len(r.envelopes) > 1]
    affected: dict[tuple[str, str], Record] = {}
    dropped = 0
    while dropped < total_chunks // 100:
        record = rng.choice(multi)
        kept = list(affected.get(record.key, record).envelopes)
        if len(kept) == 1:
            continue  # a record that vanishes whole leaves no trace for anyone to report
        kept.pop(rng.randrange(len(kept)))
        affected[record.key] = Record(record.record_id, record.kind, tuple(kept))
        dropped += 1
    delivered = [affected.get(r.key, r) for r in records]
    half = len(delivered) // 2
    env = local_env(hub, work, CHARGEBACK_RECORD_TTL_SECONDS="2")
    # Incomplete records expire by event time: send in waves, then a tick on every partition after the TTL.
    send(hub.connection_string("usage"), route(delivered[:half]))
    time.sleep(2.5)
    send(hub.connection_string("usage"), route(delivered[half:]))
    time.sleep(2.5)
    ticks = make_records(200, seed=99, body_every=0, prefix="tick")
    send(hub.connection_string("usage"), route(ticks))
    env.run_until_idle()
    outcome = account(
        "1% of chunks lost",
        records + ticks,
        env.lake_url,
        None,
        started,
        notes=f"{dropped} chunks dropped from {len(affected)} body records",
    )
    return outcome, set(affected)


def blob_down_seven_seconds(hub: Any, azurite: Any, work: Path, count: int, seed: int = 14) -> Outcome:
    started = time.perf_counter()
    records = make_records(count, seed=seed)
    send(hub.connection_string("usage"), route(records))
    (work / "logs").mkdir(parents=True, exist_ok=True)
    env = ConsumerEnv(
        hub.connection_string("usage"),
        f"{azurite.blob_endpoint}/lake",
        f"{azurite.blob_endpoint}/checkpoints",
        azurite.connection_string,
        logs=work / "logs",
    )
    proc = env.start(until_idle=6, log_level="INFO")
    try:
        # The outage must hit a running consumer, not its start-up probe (which would rightly exit 5): wait until it
        # owns a partition, however slow the machine is today.
        _wait_for_log(env, "consumer", '"partition_opened"', proc)
        time.sleep(0.5)
        azurite.stop()
        time.sleep(7)
        azurite.start()
        code = proc.wait(timeout=300)
    finally:
        kill(proc)
    if code != 0:
        raise AssertionError(f"consumer exited {code}; see {env.logs}")
    return account("Blob storage down 7 s", records, env.lake_url, azurite.connection_string, started)


def connections_dropped_links_detached(hub: Any, work: Path, count: int, seed: int = 15) -> Outcome:
    started = time.perf_counter()
    records = make_records(count, seed=seed)
    send(hub.connection_string("usage"), route(records))
    env = local_env(hub, work)
    proc = env.start(until_idle=6)
    faults = 0
    try:
        time.sleep(2)
        while proc.poll() is None and faults < 8:
            if faults % 2:
                hub.faults.detach_receivers("usage", condition="amqp:link:detach-forced")
            else:
                hub.faults.drop_connections()
            faults += 1
            time.sleep(1.0)
        code = proc.wait(timeout=300)
    finally:
        kill(proc)
    if code != 0:
        raise AssertionError(f"consumer exited {code}; see {env.logs}")
    if faults < 4:
        raise AssertionError("the consumer finished before the faults could hit it: use more records")
    return account(
        "EH connections dropped / links detached",
        records,
        env.lake_url,
        None,
        started,
        notes=f"{faults} faults injected",
    )


def two_consumers_one_killed(hub: Any, work: Path, count: int, seed: int = 16) -> Outcome:
    started = time.perf_counter()
    records = make_records(count, seed=seed)
    send(hub.connection_string("usage"), route(records))
    env = local_env(hub, work, CHARGEBACK_FLUSH_MAX_ROWS=str(flush_rows_for(count)))
    victim = env.start(until_idle=None, name="victim", log_level="INFO")
    survivor = env.start(until_idle=12, name="survivor")
    try:
        deadline = time.monotonic() + 120
        while _lake_files(work) < 6 and time.monotonic() < deadline:  # both are writing: kill mid-run
            time.sleep(0.05)
        time.sleep(1.0)
        if victim.poll() is not None:
            raise AssertionError(f"the victim exited by itself; see {env.logs}")
        killed_at = _lake_files(work)
        kill(victim)
        owned = (work / "logs" / "victim.log").read_text(encoding="utf-8").count('"partition_opened"')
        if not owned:
            raise AssertionError("the victim owned no partition when it was killed: nothing was taken over")
        code = survivor.wait(timeout=600)
    finally:
        kill(victim)
        kill(survivor)
    if code != 0:
        raise AssertionError(f"survivor exited {code}; see {env.logs}")
    return account(
        "two consumers, one SIGKILLed",
        records,
        env.lake_url,
        None,
        started,
        notes=f"victim killed owning {owned} partition(s), {killed_at} lake files written",
    )


# -- restarts and takeovers (issue 13) ---------------------------------------------------------------------------
# Figures besides lost and doubled: spurious dead letters (dead letters of records that are in the lake, or any
# dead letter where none is expected) and the checkpoint lag after the last run (per partition: last sequence
# number in the hub minus the checkpointed one; 0 when a restart left nothing pinned).


def interleaved(records: list[Record], seed: int, window: int = 6) -> dict[int, list[list[bytes]]]:
    """Per partition, windows of up to `window` consecutive records with their chunks interleaved (each record's
    own chunks in order), as concurrent calls through one gateway produce them: multi-chunk records straddle
    every cut inside a window."""
    rng = random.Random(seed)
    by_partition: dict[int, list[Record]] = {}
    for record in records:
        by_partition.setdefault(record.partition, []).append(record)
    out: dict[int, list[list[bytes]]] = {}
    for partition, recs in by_partition.items():
        windows = []
        for start in range(0, len(recs), window):
            queues = [list(r.envelopes) for r in recs[start : start + window]]
            stream: list[bytes] = []
            while any(queues):
                stream.append(rng.choice([q for q in queues if q]).pop(0))
            windows.append(stream)
        out[partition] = windows
    return out


def checkpoint_lag(env: ConsumerEnv, hub: Any, hub_name: str = "usage") -> dict[str, int]:
    """Per partition: the hub's last sequence number minus the checkpointed one (read through the consumer's own
    checkpoint store, local or Blob)."""
    import asyncio
    import contextlib

    from common.storage.location import open_location
    from consumer.app import open_checkpoint_store
    from consumer.eventhub_source import namespace_of
    from consumer.settings import ConsumerSettings

    settings = ConsumerSettings(
        eventhub_connection_string=env.connection_string,
        checkpoint_url=env.checkpoint_url,
        lake_url=env.lake_url,
        storage_connection_string=env.storage_connection_string,
        health_port=0,
    )
    location = open_location(settings.checkpoint_url, connection_string=settings.storage_connection)
    store, _ = open_checkpoint_store(location)

    async def listing() -> list[dict[str, Any]]:
        try:
            return list(await store.list_checkpoints(namespace_of(settings), hub_name, settings.consumer_group))
        finally:
            with contextlib.suppress(Exception):
                await store.close()  # type: ignore[attr-defined]

    checkpointed = {item["partition_id"]: int(item["sequence_number"]) for item in asyncio.run(listing())}
    lag = {}
    for partition in range(PARTITIONS_IN_HUB):
        events = hub.events(hub_name, str(partition))
        last = events[-1].sequence_number if events else -1
        lag[str(partition)] = last - checkpointed.get(str(partition), -1)
    return lag


PARTITIONS_IN_HUB = 4


def restart_figures(outcome: Outcome, lag: dict[str, int]) -> Outcome:
    """Add the spurious dead letters and the checkpoint lag after restart to a report's notes and sets."""
    report, sets = outcome
    spurious = sets.get("dead_and_written", set())
    report.notes = (report.notes + f" spurious dead letters={len(spurious)} checkpoint lag after restart={lag}").strip()
    sets["lag"] = {(p, str(n)) for p, n in lag.items() if n}
    return report, sets


def _dead_and_written(lake_url: str, storage: str | None, written: set[tuple[str, str]]) -> set[tuple[str, str]]:
    from tests.reliability.harness import lake_tables

    con = lake_tables(lake_url, storage)
    dead = {(rid, kind) for rid, kind, _ in con.execute("SELECT record_id, kind, reason FROM dead_letters").fetchall()}
    return dead & written


def _stop_and_restart(
    env: ConsumerEnv, work: Path, rng: random.Random, waves: list[dict[int, list[bytes]]], hub: Any, label: str
) -> list[str]:
    """One consumer per wave: the wave is sent, the consumer started and stopped mid-run once it has written
    something, by SIGTERM (a clean stop) or SIGKILL, alternately. Returns how each run ended."""
    import signal as _signal

    ends = []
    for attempt, wave in enumerate(waves):
        send(hub.connection_string("usage"), wave)
        before = _lake_files(work) if env.lake_url.startswith(str(work)) else None
        proc = env.start(until_idle=None, name=f"{label}-{attempt}")
        try:
            started = time.monotonic()
            while time.monotonic() - started < 60 and (before is None or _lake_files(work) <= before):
                if proc.poll() is not None:
                    raise AssertionError(f"consumer exited by itself on run {attempt}; see {env.logs}")
                if before is None and time.monotonic() - started > 4:
                    break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.6))
            how = _signal.SIGTERM if attempt % 2 == 0 else _signal.SIGKILL
            kill(proc, how)
        finally:
            kill(proc)  # never leave a consumer behind when the scenario fails
        ends.append(f"{how.name}->{proc.returncode}")
    return ends


def _waves(per_partition: dict[int, list[list[bytes]]], count: int) -> list[dict[int, list[bytes]]]:
    """The streams cut in `count` waves inside interleaved windows: each wave ends with records incomplete (their
    last chunks come with the next wave) next to records it completed, so every stop leaves a checkpoint
    between the chunks of records already in the lake."""
    waves: list[dict[int, list[bytes]]] = [{} for _ in range(count)]
    for partition, bodies in _flat(per_partition).items():
        size = -(-len(bodies) // count)
        for i in range(count):
            waves[i][partition] = bodies[i * size : (i + 1) * size]
    return waves


def _flat(per_partition: dict[int, list[list[bytes]]]) -> dict[int, list[bytes]]:
    return {p: [body for w in windows for body in w] for p, windows in per_partition.items()}


def restarts_with_straddling_records(
    hub: Any, work: Path, count: int, seed: int = 17, *, azurite: Any = None
) -> Outcome:
    """Multi-chunk records interleaved on every partition, so checkpoints sit between the chunks of records
    already in the lake; the consumer is stopped (SIGTERM) and killed (SIGKILL) mid-run four times, then a tick
    past the TTL is sent and a last consumer runs until idle. Nothing may be lost, doubled, dead-lettered, or
    left holding a checkpoint back."""
    started = time.perf_counter()
    records = make_records(count, seed=seed, body_every=3)
    waves = _waves(interleaved(records, seed), 5)  # a wave per run: every stop lands mid-stream
    (work / "logs").mkdir(parents=True, exist_ok=True)
    # A TTL longer than the run: a record cut between waves is legitimately incomplete for a while and must not
    # expire; a record a restart leaves held shows as checkpoint lag after the last run.
    extra = {"CHARGEBACK_FLUSH_MAX_ROWS": str(max(50, count // 40)), "CHARGEBACK_RECORD_TTL_SECONDS": "600"}
    if azurite is None:
        env = local_env(hub, work, **extra)
        storage = None
    else:
        storage = azurite.connection_string
        env = ConsumerEnv(
            hub.connection_string("usage"),
            f"{azurite.blob_endpoint}/lake{seed}",
            f"{azurite.blob_endpoint}/checkpoints{seed}",
            storage,
            extra=extra,
            logs=work / "logs",
        )
    ends = _stop_and_restart(env, work, random.Random(seed), waves[:-1], hub, "restart")
    send(hub.connection_string("usage"), waves[-1])
    env.run_until_idle(name="final")
    lag = checkpoint_lag(env, hub)
    outcome = account(
        f"restarts, straddling records ({'Blob' if azurite else 'local'})",
        records,
        env.lake_url,
        storage,
        started,
        notes=f"runs ended {ends}",
    )
    outcome[1]["dead_and_written"] = _dead_and_written(env.lake_url, storage, outcome[1]["written"])
    return restart_figures(outcome, lag)


def three_consumers_with_takeovers(hub: Any, work: Path, count: int, seed: int = 18) -> Outcome:
    """Three consumers in one group share the partitions; one is SIGKILLed, one stopped with SIGTERM and a new
    one joins while records with straddling chunks flow; the survivors take the partitions over. Then a tick
    past the TTL and a last consumer until idle."""
    import signal as _signal

    started = time.perf_counter()
    records = make_records(count, seed=seed, body_every=3)
    send(hub.connection_string("usage"), _flat(interleaved(records, seed)))
    env = local_env(
        hub,
        work,
        CHARGEBACK_FLUSH_MAX_ROWS=str(max(50, count // 40)),
        CHARGEBACK_RECORD_TTL_SECONDS="3",
    )
    procs = {name: env.start(until_idle=None, name=name, log_level="INFO") for name in ("c1", "c2", "c3")}
    try:
        deadline = time.monotonic() + 120
        while _lake_files(work) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited by itself; see {env.logs}")
        owners = {
            name: (work / "logs" / f"{name}.log").read_text(encoding="utf-8").count('"partition_opened"')
            for name in procs
        }
        kill(procs["c1"])  # takeover of its partitions after the ownership expires
        time.sleep(1.0)
        kill(procs["c2"], _signal.SIGTERM)  # a clean hand-over
        procs["c4"] = env.start(until_idle=None, name="c4", log_level="INFO")
        time.sleep(3.0)
        kill(procs["c3"])
        time.sleep(2.0)
        kill(procs["c4"], _signal.SIGTERM)  # the last one hands over cleanly to the final run
        time.sleep(3.5)
        ticks = make_records(40, seed=97, body_every=0, prefix="tick")
        send(hub.connection_string("usage"), route(ticks))
        env.run_until_idle(name="final")
    finally:
        for proc in procs.values():
            kill(proc)
    lag = checkpoint_lag(env, hub)
    outcome = account(
        "three consumers, takeovers",
        records + ticks,
        env.lake_url,
        None,
        started,
        notes=f"partitions opened per consumer before the first kill: {owners}",
    )
    outcome[1]["dead_and_written"] = _dead_and_written(env.lake_url, None, outcome[1]["written"])
    return restart_figures(outcome, lag)


def two_owners_window(work: Path, count: int, *, forced: bool) -> Outcome:
    """The window the README admits between two owners of one partition, forced deliberately (in process, with
    the real pipeline, lake writer and stores): owner B re-reads the flush state just before owner A announces
    its cut, so B cuts elsewhere and both write. `forced=False` is the same overlap without the stale read: B
    adopts A's cut and nothing is doubled. The `usage` view's deduplication by record_id covers what is doubled
    (lost and doubled are counted after that deduplication; `usage_raw` copies are in the notes)."""
    import asyncio

    from consumer.flush_state import FlushState
    from consumer.rotation import RotationPolicy
    from tests.unit.consumer.streams import Harness, Stream, read_column

    started = time.perf_counter()
    stream = Stream()
    ids = [stream.add_usage(i) for i in range(count)]
    a = Harness(work / "lake", work / "ckpt", policy=RotationPolicy(max_rows=max(10, count // 7)), batch_size=13)
    b = Harness(work / "lake", work / "ckpt", policy=RotationPolicy(max_rows=max(10, count // 5)), batch_size=17)

    async def overlap() -> None:
        pa_, pb = a.build(), b.build()
        await pa_.open_partition("0", None)
        await pb.open_partition("0", None)  # both own partition 0 for a moment: a steal in progress
        if forced:
            stale = FlushState()
            real_load = b.pipeline.deps.states.load  # type: ignore[union-attr]

            async def load_before_a_announces(partition: str, on_failure: Any = None) -> FlushState:
                return stale  # what B read a moment before A's write-ahead landed

            b.pipeline.deps.states.load = load_before_a_announces  # type: ignore[union-attr, method-assign]
        events = stream.events
        half = len(events) // 2
        for i in range(0, half, 13):
            await pa_.on_events("0", events[i : min(i + 13, half)])
        for i in range(0, half, 17):
            await pb.on_events("0", events[i : min(i + 17, half)])
        if forced:
            b.pipeline.deps.states.load = real_load  # type: ignore[union-attr, method-assign]
        await pa_.close_partition("0", flush=False)  # A loses the partition; B goes on to the end
        for i in range(half, len(events), 17):
            await pb.on_events("0", events[i : i + 17])
        await pb.on_idle("0")
        await pb.close_partition("0", flush=True)

    asyncio.run(overlap())
    rows = read_column(work / "lake", "usage", "record_id")
    copies = len(rows) - len(set(rows))
    lost = len(set(ids) - set(rows))
    report = FaultReport(
        f"two owners, window {'forced' if forced else 'not forced'}",
        len(ids),
        len(set(rows)),
        0,
        lost,
        0,
        time.perf_counter() - started,
        notes=f"usage_raw copies={copies} (deduplicated by record_id in the usage view)",
    )
    return report, {
        "written": set(rows),
        "dead": set(),
        "lost": set(ids) - set(rows),
        "unexpected": set(),
        "copies": {("n", str(copies))},
    }
