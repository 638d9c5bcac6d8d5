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
