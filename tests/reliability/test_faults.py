"""The fault suite: injected faults, and the chargeback data stays exact (lost = 0, doubled = 0).

Runnable alone: `make reliability` (prints every scenario's figures). Sizes: RELIABILITY_RECORDS calls per
scenario (default 50,000 for the crash scenarios, a fifth of that for the others; every tenth call also carries
a multi-chunk response body record).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.reliability.harness import (
    ConsumerEnv,
    FaultReport,
    Record,
    account,
    kill,
    make_records,
    route,
    send,
)
from tests.support.localhub import running_localhub

pytestmark = pytest.mark.reliability

BIG = int(os.environ.get("RELIABILITY_RECORDS", "50000"))
SMALL = max(1000, BIG // 5)
REPORTS: list[FaultReport] = []


def finish(report: FaultReport) -> FaultReport:
    REPORTS.append(report)
    print("\n" + report.line())
    return report


@pytest.fixture
def hub():
    with running_localhub(hubs={"usage": 4}) as server:
        yield server


def local_env(hub, tmp_path: Path, **extra: str) -> ConsumerEnv:
    (tmp_path / "logs").mkdir(exist_ok=True)
    return ConsumerEnv(
        hub.connection_string("usage"),
        str(tmp_path / "lake"),
        str(tmp_path / "checkpoints"),
        extra=extra,
        logs=tmp_path / "logs",
    )


def assert_exact(report: FaultReport, sets: dict, *, dead: set | None = None) -> None:
    assert report.lost == 0, sorted(sets["lost"])[:10]
    assert report.doubled == 0
    assert not sets["unexpected"], sorted(sets["unexpected"])[:10]
    assert sets["dead"] == (dead or set()), sorted(sets["dead"] ^ (dead or set()))[:10]


def test_consumer_killed_at_ten_random_points(hub, tmp_path):
    started = time.perf_counter()
    records = make_records(BIG, seed=11)
    send(hub.connection_string("usage"), route(records))
    env = local_env(hub, tmp_path)
    rng = random.Random(11)
    for attempt in range(10):
        proc = env.start(until_idle=None, name=f"killed-{attempt}")
        time.sleep(rng.uniform(1.5, 4.0))
        assert proc.poll() is None, f"consumer died by itself on attempt {attempt}; see {env.logs}"
        kill(proc)
    env.run_until_idle(name="final")
    report, sets = account("SIGKILL x10 mid-run", records, env.lake_url, None, started)
    assert_exact(finish(report), sets)


def test_duplicated_and_reordered_deliveries(hub, tmp_path):
    started = time.perf_counter()
    records = make_records(SMALL, seed=12)
    rng = random.Random(12)
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
    env = local_env(hub, tmp_path)
    env.run_until_idle()
    report, sets = account("duplicated + reordered", records, env.lake_url, None, started)
    assert_exact(finish(report), sets)


def test_one_percent_of_chunks_lost(hub, tmp_path):
    started = time.perf_counter()
    records = make_records(SMALL, seed=13)
    rng = random.Random(13)
    total_chunks = sum(len(r.envelopes) for r in records)
    multi = [r for r in records if len(r.envelopes) > 1]
    affected: dict[tuple[str, str], Record] = {}
    dropped = 0
    while dropped < total_chunks // 100:
        record = rng.choice(multi)
        kept = list(affected.get(record.key, record).envelopes)
        if len(kept) == 1:
            continue  # keep one chunk so the loss is visible; a record that vanishes whole leaves no trace
        kept.pop(rng.randrange(len(kept)))
        affected[record.key] = Record(record.record_id, record.kind, tuple(kept))
        dropped += 1
    delivered = [affected.get(r.key, r) for r in records]
    half = len(delivered) // 2
    env = local_env(hub, tmp_path, CHARGEBACK_RECORD_TTL_SECONDS="2")
    # Event time must pass the TTL for incomplete records to expire: send in waves, then a tick on every partition.
    send(hub.connection_string("usage"), route(delivered[:half]))
    time.sleep(2.5)
    send(hub.connection_string("usage"), route(delivered[half:]))
    time.sleep(2.5)
    ticks = [r for r in make_records(200, seed=99, body_every=0, prefix="tick")]
    send(hub.connection_string("usage"), route(ticks))
    env.run_until_idle()
    report, sets = account(
        "1% of chunks lost",
        records + ticks,
        env.lake_url,
        None,
        started,
        notes=f"{dropped} chunks dropped from {len(affected)} body records",
    )
    assert_exact(finish(report), sets, dead=set(affected))
    assert all(kind != "usage" for _, kind in sets["dead"])  # no usage record lost when only body chunks are


def test_blob_storage_unavailable_for_seven_seconds(hub, azurite, tmp_path):
    started = time.perf_counter()
    records = make_records(SMALL, seed=14)
    send(hub.connection_string("usage"), route(records))
    (tmp_path / "logs").mkdir()
    env = ConsumerEnv(
        hub.connection_string("usage"),
        f"{azurite.blob_endpoint}/lake",
        f"{azurite.blob_endpoint}/checkpoints",
        azurite.connection_string,
        logs=tmp_path / "logs",
    )
    proc = env.start(until_idle=6)
    try:
        time.sleep(3)
        azurite.stop()
        time.sleep(7)
        azurite.start()
        assert proc.wait(timeout=300) == 0
    finally:
        kill(proc)
    report, sets = account("Blob storage down 7 s", records, env.lake_url, azurite.connection_string, started)
    assert_exact(finish(report), sets)


def test_event_hubs_connections_dropped_and_links_detached(hub, tmp_path):
    started = time.perf_counter()
    records = make_records(SMALL, seed=15)
    send(hub.connection_string("usage"), route(records))
    env = local_env(hub, tmp_path)
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
        assert proc.wait(timeout=300) == 0
    finally:
        kill(proc)
    report, sets = account(
        "EH connections dropped / links detached",
        records,
        env.lake_url,
        None,
        started,
        notes=f"{faults} faults injected",
    )
    assert faults >= 4, "the consumer finished before the faults could hit it: raise RELIABILITY_RECORDS"
    assert_exact(finish(report), sets)


def test_two_consumers_one_killed_mid_run(hub, tmp_path):
    started = time.perf_counter()
    records = make_records(BIG, seed=16)
    send(hub.connection_string("usage"), route(records))
    env = local_env(hub, tmp_path)
    victim = env.start(until_idle=None, name="victim")
    survivor = env.start(until_idle=12, name="survivor")
    try:
        time.sleep(5)
        assert victim.poll() is None
        kill(victim)
        assert survivor.wait(timeout=600) == 0
    finally:
        kill(victim)
        kill(survivor)
    report, sets = account("two consumers, one SIGKILLed", records, env.lake_url, None, started)
    assert_exact(finish(report), sets)
