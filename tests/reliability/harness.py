"""The fault suite's harness: a known stream of records, a consumer under fire, and an exact account of the lake.

Records are encoded with the reference codec (the policy is proven byte-identical to it in tests/integration/policy)
and sent with the real SDK to the local Event Hubs server; every chunk of a record goes to the partition its
record id hashes to, as a partition key would. The consumer runs as `python -m chargeback consume` child processes;
the lake is read back with DuckDB. Every scenario ends in a `FaultReport`: records in, written, dead-lettered,
lost, doubled.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from azure.eventhub import EventData
from azure.eventhub.aio import EventHubProducerClient

from schemas.codec import ChunkingParams, encode
from tests.support.lakes import duckdb_over_lake

PARTITIONS = 4
BODY_EVERY = 10
BODY_CHUNKS = ChunkingParams(chunk_bytes=6_000, max_chunks=8)
EMITTED = "2026-10-15T12:00:00.0000000Z"


@dataclass(frozen=True)
class Record:
    record_id: str
    kind: str
    envelopes: tuple[bytes, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.record_id, self.kind)

    @property
    def partition(self) -> int:
        return zlib.crc32(self.record_id.encode()) % PARTITIONS


def usage_payload(record_id: str, moment: datetime, rng: random.Random) -> bytes:
    prompt = rng.randint(10, 5000)
    cached = rng.choice([0, 0, prompt // 2])
    completion = rng.randint(1, 800)
    return json.dumps(
        {
            "schema_version": 1,
            "record_id": record_id,
            "event_time": moment.isoformat(),
            "duration_ms": 640,
            "status_code": 200,
            "operation": "chat.completions",
            "stream": False,
            "api_version": "2024-10-21",
            "deployment": "gpt-4o",
            "model": "gpt-4o-2024-11-20",
            "region": "Sweden Central",
            "subscription_id": f"sub-{rng.randint(1, 20)}",
            "product_id": "ai-standard",
            "api_id": "azure-openai",
            "tags": {"team": rng.choice(["search", "support", "finance"])},
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "cached_tokens": cached,
            "reasoning_tokens": 0,
            "usage_source": "reported",
        }
    ).encode()


def records_per_partition(count: int, body_every: int = BODY_EVERY) -> int:
    """How many records `make_records(count)` puts on each partition, on average."""
    total = count + (count + body_every - 1) // body_every if body_every else count
    return max(1, total // PARTITIONS)


def flush_rows_for(count: int, *, flushes_per_partition: int = 12) -> int:
    """CHARGEBACK_FLUSH_MAX_ROWS that cuts each partition's share of `count` calls into about
    `flushes_per_partition` files, whatever the size: a kill that waits for new files always finds more to come,
    so the scenarios keep landing mid-run at 2,000 calls as at 50,000 (a fixed 1,500 rows did not: below ~10,000
    calls one run wrote the whole share and the next run had nothing left to write)."""
    return max(20, records_per_partition(count) // flushes_per_partition)


def make_records(count: int, *, seed: int, body_every: int = BODY_EVERY, prefix: str = "r") -> list[Record]:
    """`count` usage records; every `body_every`-th call also has a multi-chunk response body record."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 15, 8, tzinfo=UTC)
    records = []
    for i in range(count):
        rid = f"{prefix}{seed:04d}-{i:07d}"
        moment = start + timedelta(seconds=i * 0.5)
        records.append(
            Record(rid, "usage", tuple(encode(rid, "usage", usage_payload(rid, moment, rng), emitted_at=EMITTED)))
        )
        if body_every and i % body_every == 0:
            body = ("réponse " * rng.randint(2_000, 3_000)).encode()
            records.append(
                Record(
                    rid,
                    "response_body",
                    tuple(
                        encode(
                            rid,
                            "response_body",
                            body,
                            emitted_at=EMITTED,
                            content_type="application/json",
                            params=BODY_CHUNKS,
                        )
                    ),
                )
            )
    return records


async def send_envelopes(connection_string: str, per_partition: dict[int, list[bytes]]) -> int:
    """Send each partition's envelopes in the given order, in full batches."""
    sent = 0
    async with EventHubProducerClient.from_connection_string(connection_string) as producer:

        async def one(partition: int, bodies: list[bytes]) -> None:
            nonlocal sent
            batch = await producer.create_batch(partition_id=str(partition))
            for body in bodies:
                try:
                    batch.add(EventData(body))
                except ValueError:
                    await producer.send_batch(batch)
                    batch = await producer.create_batch(partition_id=str(partition))
                    batch.add(EventData(body))
            if len(batch):
                await producer.send_batch(batch)
            sent += len(bodies)

        await asyncio.gather(*(one(p, b) for p, b in per_partition.items()))
    return sent


def route(records: list[Record]) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = defaultdict(list)
    for record in records:
        out[record.partition].extend(record.envelopes)
    return out


def send(connection_string: str, per_partition: dict[int, list[bytes]]) -> int:
    return asyncio.run(send_envelopes(connection_string, per_partition))


STARTED: list[subprocess.Popen] = []
"""Every consumer process this test process started, for `reap_children` (a failed scenario's leftovers)."""


def reap_children() -> list[int]:
    """SIGKILL every consumer started here that still runs, and return their pids. The consumers run in their own
    sessions (so a kill takes their whole group), which also means nothing else would ever stop them."""
    leftover = [proc for proc in STARTED if proc.poll() is None]
    for proc in leftover:
        kill(proc)
    STARTED.clear()
    return [proc.pid for proc in leftover]


atexit.register(reap_children)


@dataclass
class ConsumerEnv:
    connection_string: str
    lake_url: str
    checkpoint_url: str
    storage_connection_string: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    logs: Path | None = None

    def environ(self) -> dict[str, str]:
        env = (
            os.environ
            | {
                "CHARGEBACK_EVENTHUB_CONNECTION_STRING": self.connection_string,
                "CHARGEBACK_LAKE_URL": self.lake_url,
                "CHARGEBACK_CHECKPOINT_URL": self.checkpoint_url,
                "CHARGEBACK_HEALTH_PORT": "0",
                "CHARGEBACK_LOAD_BALANCING_INTERVAL_SECONDS": "1",
                "CHARGEBACK_OWNERSHIP_EXPIRATION_SECONDS": "6",
                "CHARGEBACK_FLUSH_MAX_ROWS": "5000",
                "CHARGEBACK_LOG_LEVEL": os.environ.get("RELIABILITY_CONSUMER_LOG_LEVEL", "WARNING"),
            }
            | self.extra
        )
        if self.storage_connection_string:
            env["CHARGEBACK_STORAGE_CONNECTION_STRING"] = self.storage_connection_string
        return env

    def start(
        self, *, until_idle: float | None = 4.0, name: str = "consumer", log_level: str | None = None
    ) -> subprocess.Popen:
        args = [sys.executable, "-m", "chargeback", "consume"]
        if until_idle is not None:
            args += ["--until-idle", str(until_idle)]
        env = self.environ() | ({"CHARGEBACK_LOG_LEVEL": log_level} if log_level else {})
        log = open(self.logs / f"{name}.log", "ab") if self.logs else subprocess.DEVNULL  # noqa: SIM115
        try:
            proc = subprocess.Popen(args, env=env, stdout=log, stderr=log, start_new_session=True)
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # the child holds its own descriptor
        STARTED.append(proc)
        return proc

    def run_until_idle(self, *, timeout: float = 300, name: str = "consumer") -> None:
        proc = self.start(name=name)
        try:
            code = proc.wait(timeout=timeout)
        finally:
            kill(proc)
        assert code == 0, f"consumer exited {code}; see {self.logs}"


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)


@dataclass
class FaultReport:
    scenario: str
    records_in: int
    written: int
    dead_lettered: int
    lost: int
    doubled: int
    seconds: float
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)
    notes: str = ""

    def line(self) -> str:
        return (
            f"{self.scenario}: in={self.records_in} written={self.written} dead-lettered={self.dead_lettered} "
            f"lost={self.lost} doubled={self.doubled} ({self.seconds:.1f} s) {self.dead_letter_reasons} "
            f"{self.notes}"
        )


REPORTS: list[FaultReport] = []
"""Every scenario's report in this process, printed by tests/reliability/conftest.py at the end of the run."""


def lake_tables(lake_url: str, storage_connection_string: str | None) -> duckdb.DuckDBPyConnection:
    """DuckDB over the lake's stream tables (Hive layout), read through pyarrow (works for local and Blob)."""
    return duckdb_over_lake(lake_url, storage_connection_string, ("usage", "payloads", "dead_letters"))


def account(
    scenario: str,
    records: list[Record],
    lake_url: str,
    storage_connection_string: str | None,
    started: float,
    *,
    notes: str = "",
) -> tuple[FaultReport, dict[str, set[tuple[str, str]]]]:
    """Compare what was sent with what the lake holds, record by record."""
    con = lake_tables(lake_url, storage_connection_string)
    rows = (
        con.execute(
            "SELECT record_id, 'usage' AS kind FROM usage UNION ALL "
            "SELECT record_id, CASE part WHEN 'request' THEN 'request_body' ELSE 'response_body' END FROM payloads"
        ).fetchall()
        if con.execute("SELECT count(*) FROM payloads").fetchone()[0]
        else con.execute("SELECT record_id, 'usage' AS kind FROM usage").fetchall()
    )
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for rid, kind in rows:
        counts[(rid, kind)] += 1
    dead = con.execute("SELECT record_id, kind, reason FROM dead_letters").fetchall()
    dead_keys = {(rid, kind) for rid, kind, _ in dead if rid is not None}
    reasons: dict[str, int] = defaultdict(int)
    for _, _, reason in dead:
        reasons[reason] += 1
    sent = {r.key for r in records}
    written = {k for k in counts if k in sent}
    dead_only = (dead_keys & sent) - written
    lost = sent - written - dead_only
    doubled = sum(n - 1 for n in counts.values() if n > 1)
    report = FaultReport(
        scenario,
        len(sent),
        len(written),
        len(dead_only),
        len(lost),
        doubled,
        time.perf_counter() - started,
        dict(reasons),
        notes,
    )
    return report, {"written": written, "dead": dead_only, "lost": lost, "unexpected": set(counts) - sent}
