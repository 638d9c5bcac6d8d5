"""consumer: the core path without network against a bare baseline, the SDK path against the SDK's bare
`receive_batch`, and peak RSS while 1 MB body records stream through with the default pending-bytes cap.

- Core path: envelope bodies -> Reassembler -> columnar validation (pydantic for rejects) -> Arrow -> zstd Parquet
  on local disk, driven through the same `PartitionProcessor` the consumer runs (flush state and file checkpoint
  store included), in a child process with the consumer's allocator settings, pinned to one CPU
  (`sched_setaffinity`, so every thread shares it) with Arrow's pools at one thread. Baselines in the same child,
  alternating with it: Arrow's NDJSON reader over the joined payloads + Parquet (the figure's baseline: the fastest
  bare way), and `json.loads` each payload + `Table.from_pylist` + Parquet (in the notes); also the reassembler
  alone, event by event (`feed`) and per delivery (`feed_many`).
- SDK path: the local Event Hubs server in its own process; the consumer's `EventHubSource` + pipeline in this
  process against the SDK's `receive_batch` with a handler that only counts, each over the same events, alternating
  and keeping the best of two runs of each.
- Peak RSS: a child process (the Dockerfile's Arrow pool, the consumer's malloc setting) streams 1 MB request
  bodies (8 chunks each) interleaved 300 records at a time, so more bytes are pending than the cap allows, in
  batches of 50 events; the child's `VmHWM` (its
  `ru_maxrss` would start from the forking parent's). The SDK's prefetch adds up to prefetch x message size per
  partition on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.figures import Figure

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
MiB = 1024 * 1024
BATCH_ROWS = 16_384
"""Rows per baseline file: what the consumer's default 16 MiB batches hold of these records."""
DELIVERY = 300
SDK_BATCH_ROWS = 5_000
"""Rows per batch in the SDK figure: each partition's 10,000 events are written in two flushes inside the window
(the default 16 MiB batches would hold them all and flush only once idle, after the clock stops)."""
"""Events per delivery, the SDK's default prefetch and our `max_batch_size`."""
CONTAINER_ENV = {"ARROW_DEFAULT_MEMORY_POOL": "system"}
"""What the Dockerfile sets (consumer/memory.py explains why; the consumer sets glibc's mmap threshold itself)."""


def _usage_payload(record_id: str, i: int) -> bytes:
    record = {
        "schema_version": 1,
        "record_id": record_id,
        "event_time": (T0 + timedelta(milliseconds=i)).isoformat(),
        "duration_ms": 812,
        "status_code": 200,
        "operation": "chat.completions",
        "stream": False,
        "api_version": "2024-10-21",
        "deployment": "gpt-4o",
        "model": "gpt-4o-2024-11-20",
        "region": "Sweden Central",
        "backend_id": "aoai-swedencentral",
        "gateway_id": "managed",
        "service_name": "apim-chargeback-prod",
        "subscription_id": f"sub-{i % 50:04d}",
        "subscription_name": f"team-{i % 50} production key",
        "product_id": "aoai-standard",
        "api_id": "azure-openai",
        "operation_id": "ChatCompletions_Create",
        "user_id": None,
        "client_ip": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "tags": {"team": f"team-{i % 50}", "cost-centre": f"CC-{i % 17:03d}", "project": "assistant"},
        "prompt_tokens": 1200 + i % 300,
        "completion_tokens": 300 + i % 100,
        "total_tokens": 1500 + i % 300 + i % 100,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "usage_source": "reported",
        "error_code": None,
    }
    body = json.dumps(record, separators=(",", ":")).encode()
    pad = 1024 - len(body) - len(',"note":""')
    record["note"] = "n" * max(0, pad)
    return json.dumps(record, separators=(",", ":")).encode()


def _envelopes(count: int) -> tuple[list[bytes], list[bytes]]:
    from schemas.codec import encode

    payloads, bodies = [], []
    for i in range(count):
        record_id = str(uuid.UUID(int=i + 1))
        payload = _usage_payload(record_id, i)
        payloads.append(payload)
        bodies.extend(encode(record_id, "usage", payload, emitted_at=T0))
    return payloads, bodies


# -- core path ------------------------------------------------------------------------------------------------
def _pipeline(root: Path, max_rows: int):
    from consumer.checkpoint_file import FileCheckpointStore
    from consumer.columnar import usage_tables
    from consumer.flush_state import FlushStateStore
    from consumer.lake_writer import LakeWriter
    from consumer.metrics import ConsumerMetrics, ConsumerStats
    from consumer.partition import PartitionDeps
    from consumer.pipeline import Pipeline
    from consumer.rotation import RotationPolicy
    from consumer.sources import Position
    from schemas.lake import open_location
    from schemas.reassembler import Reassembler

    store = FileCheckpointStore(root / "ckpt")

    async def checkpoint(partition: str, position: Position) -> None:
        await store.update_checkpoint(
            {
                "fully_qualified_namespace": "bench",
                "eventhub_name": "usage",
                "consumer_group": "$default",
                "partition_id": partition,
                "offset": position.offset,
                "sequence_number": position.sequence_number,
            }
        )

    stats = ConsumerStats()
    return Pipeline(
        PartitionDeps(
            hub="usage",
            decoder=Reassembler(),
            writer=LakeWriter(open_location(str(root / "lake"))),
            states=FlushStateStore(open_location(str(root / "ckpt")), "bench", "usage", "$default"),
            checkpoint=checkpoint,
            policy=RotationPolicy(max_rows=max_rows),
            usage_converter=usage_tables,
            metrics=ConsumerMetrics(stats),
        )
    ), stats


async def _core(bodies: list[bytes], root: Path) -> float:
    from consumer.sources import SourceEvent

    events = [
        SourceEvent(body, seq, str(seq * 2048 + 8), T0 + timedelta(milliseconds=seq)) for seq, body in enumerate(bodies)
    ]
    pipeline, stats = _pipeline(root, max_rows=100_000)
    await pipeline.open_partition("0", None)
    started = time.perf_counter()
    for i in range(0, len(events), DELIVERY):
        await pipeline.on_events("0", events[i : i + DELIVERY])
    await pipeline.close_partition("0", flush=True)
    elapsed = time.perf_counter() - started
    assert stats.records_written["usage"] == len(bodies), stats.records_written
    return elapsed


def _baseline_loads(payloads: list[bytes], root: Path) -> float:
    """Bare baseline, the obvious way: `json.loads` each payload + `Table.from_pylist` + Parquet."""
    started = time.perf_counter()
    for i in range(0, len(payloads), BATCH_ROWS):
        rows = [json.loads(p) for p in payloads[i : i + BATCH_ROWS]]
        pq.write_table(pa.Table.from_pylist(rows), root / f"loads-{i}.parquet", compression="zstd")
    return time.perf_counter() - started


def _baseline_arrow(payloads: list[bytes], root: Path) -> float:
    """Bare baseline, the fast way: Arrow's NDJSON reader over the joined payloads (types inferred) + Parquet."""
    import pyarrow.json as pj

    started = time.perf_counter()
    for i in range(0, len(payloads), BATCH_ROWS):
        joined = b"\n".join(payloads[i : i + BATCH_ROWS])
        table = pj.read_json(io.BytesIO(joined), read_options=pj.ReadOptions(block_size=1 << 26))
        pq.write_table(table, root / f"arrow-{i}.parquet", compression="zstd")
    return time.perf_counter() - started


def _reassembler_only(bodies: list[bytes], batched: bool) -> float:
    from schemas.reassembler import EventMeta, Reassembler

    decoder = Reassembler()
    metas = [EventMeta("0", seq, str(seq), T0) for seq in range(len(bodies))]
    started = time.perf_counter()
    if batched:
        for i in range(0, len(bodies), DELIVERY):
            decoder.feed_many(bodies[i : i + DELIVERY], metas[i : i + DELIVERY])
    else:
        for body, meta in zip(bodies, metas, strict=True):
            decoder.feed(body, meta)
    return time.perf_counter() - started


def _one_core() -> int:
    """Pin this process (every thread it has or starts) to one CPU, and Arrow's pools to one thread."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    return cpu


def core_child(count: int, rounds: int) -> dict[str, float]:
    """Runs in a child process with the consumer's allocator settings, pinned to one CPU; every variant over the
    same data, alternating, best of `rounds` each."""
    from consumer.memory import tune_allocators, tune_gc

    tune_allocators()
    tune_gc()
    cpu = _one_core()
    payloads, bodies = _envelopes(count)
    root = Path(tempfile.mkdtemp(prefix="bench-consumer-"))
    best: dict[str, float] = {}
    try:
        for attempt in range(rounds):
            runs = {
                "loads": lambda: _baseline_loads(payloads, root),
                "arrow": lambda: _baseline_arrow(payloads, root),
                "core": lambda a=attempt: asyncio.run(_core(bodies, root / f"run{a}")),
                "feed": lambda: _reassembler_only(bodies, batched=False),
                "feed_many": lambda: _reassembler_only(bodies, batched=True),
            }
            for name, run in runs.items():
                best[name] = min(best.get(name, float("inf")), run())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"cpu": cpu, **{name: count / seconds for name, seconds in best.items()}}


def _core_figures(quick: bool) -> list[Figure]:
    count = 20_000 if quick else 200_000
    rounds = 2 if quick else 3
    code = f"import json; from bench.bench_consumer import core_child; print(json.dumps(core_child({count}, {rounds})))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, **CONTAINER_ENV},
        capture_output=True,
        check=True,
        text=True,
    ).stdout.strip()
    rates = json.loads(out.splitlines()[-1])
    return [
        Figure(
            "core path, 1 KB usage records (decode, reassemble, validate, Parquet)",
            rates["core"],
            "records/s",
            "Arrow NDJSON reader + Parquet",
            rates["arrow"],
            ">= 100,000 records/s",
            f"{count:,} records, one partition, pinned to one CPU, best of {rounds} alternating; "
            f"json.loads + from_pylist + Parquet: {rates['loads']:,.0f}/s ({rates['core'] / rates['loads']:.2f}x); "
            f"reassembler alone: feed {rates['feed']:,.0f}/s, feed_many {rates['feed_many']:,.0f}/s",
        )
    ]


# -- SDK path -------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _hub(partitions: int):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "localhub", "--port", str(port), "--hub", f"usage:{partitions}"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        from localhub.config import connection_string

        yield connection_string("127.0.0.1", port, "usage")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


async def _send_all(cs: str, bodies: list[bytes], partitions: int) -> None:
    from azure.eventhub import EventData
    from azure.eventhub.aio import EventHubProducerClient

    async with EventHubProducerClient.from_connection_string(cs) as producer:
        for p in range(partitions):
            batch = await producer.create_batch(partition_id=str(p))
            for body in bodies[p::partitions]:
                try:
                    batch.add(EventData(body))
                except ValueError:
                    await producer.send_batch(batch)
                    batch = await producer.create_batch(partition_id=str(p))
                    batch.add(EventData(body))
            await producer.send_batch(batch)


async def _bare_receive(cs: str, count: int) -> float:
    from azure.eventhub.aio import EventHubConsumerClient

    client = EventHubConsumerClient.from_connection_string(cs, consumer_group="$Default")
    seen = 0
    first: float | None = None
    done = asyncio.Event()
    finished = 0.0

    async def on_batch(_context, events) -> None:
        nonlocal seen, first, finished
        if events and first is None:
            first = time.perf_counter()
        seen += len(events)
        if seen >= count and not done.is_set():
            finished = time.perf_counter()
            done.set()

    task = asyncio.create_task(client.receive_batch(on_batch, max_batch_size=300, starting_position="-1"))
    await asyncio.wait_for(done.wait(), 600)
    await client.close()
    await asyncio.gather(task, return_exceptions=True)
    return count / (finished - (first or finished))


async def _consumer_receive(cs: str, count: int, root: Path) -> float:
    from consumer.checkpoint_file import FileCheckpointStore
    from consumer.columnar import usage_tables
    from consumer.eventhub_source import EventHubSource
    from consumer.flush_state import FlushStateStore
    from consumer.lake_writer import LakeWriter
    from consumer.metrics import ConsumerMetrics, ConsumerStats
    from consumer.partition import PartitionDeps
    from consumer.pipeline import Pipeline
    from consumer.rotation import RotationPolicy
    from consumer.settings import ConsumerSettings
    from schemas.lake import open_location
    from schemas.reassembler import Reassembler

    settings = ConsumerSettings(
        eventhub_connection_string=cs,
        eventhub_name="usage",
        checkpoint_url=str(root / "ckpt"),
        lake_url=str(root / "lake"),
        health_port=0,
    )
    stats = ConsumerStats()
    store = FileCheckpointStore(root / "ckpt")
    source = EventHubSource(settings, store, stats)
    pipeline = Pipeline(
        PartitionDeps(
            hub="usage",
            decoder=Reassembler(),
            writer=LakeWriter(open_location(str(root / "lake"))),
            states=FlushStateStore(open_location(str(root / "ckpt")), "bench", "usage", "$default"),
            checkpoint=source.checkpoint,
            policy=RotationPolicy(max_rows=SDK_BATCH_ROWS),
            usage_converter=usage_tables,
            metrics=ConsumerMetrics(stats),
        )
    )
    stop = asyncio.Event()
    task = asyncio.create_task(source.run(pipeline, stop))
    first: float | None = None
    # Until every record is in a Parquet file (batches cut every SDK_BATCH_ROWS rows, so no flush waits for idle).
    while stats.records_written["usage"] < count:
        await asyncio.sleep(0.01)
        if first is None and stats.events:
            first = time.perf_counter()
    finished = time.perf_counter()
    stop.set()
    await task
    assert stats.records_written["usage"] == count, stats.records_written
    return count / (finished - (first or finished))


def _sdk_figures(quick: bool) -> list[Figure]:
    count = 6_000 if quick else 40_000
    _, bodies = _envelopes(count)
    root = Path(tempfile.mkdtemp(prefix="bench-consumer-sdk-"))
    # The consumer's runtime settings (consumer/app.py) for both sides, restored afterwards for the next benchmarks.
    from consumer.memory import tune_gc

    thresholds = gc.get_threshold()
    tune_gc()
    try:
        with _hub(4) as cs:
            asyncio.run(_send_all(cs, bodies, 4))
            bare, ours = 0.0, 0.0
            for attempt in range(3):  # alternate, best of three each: the bare rate alone varies by ±15% here
                bare = max(bare, asyncio.run(_bare_receive(cs, count)))
                ours = max(ours, asyncio.run(_consumer_receive(cs, count, root / f"run{attempt}")))
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        shutil.rmtree(root, ignore_errors=True)
    return [
        Figure(
            "through the SDK and the local server, 1 KB usage records",
            ours,
            "events/s",
            "SDK receive_batch, counting only",
            bare,
            ">= 80% of bare",
            f"{count:,} events over 4 partitions, best of 3 alternating runs; server in its own process; "
            f"clock stops when every record is in Parquet (batches of {SDK_BATCH_ROWS:,} rows), checkpoints included",
        )
    ]


# -- peak RSS -------------------------------------------------------------------------------------------------
_RSS_CHILD = r"""
import asyncio, json, resource, sys, tempfile, uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from bench.bench_consumer import _pipeline
from consumer.sources import SourceEvent
from schemas.codec import encode
from consumer.memory import tune_allocators, tune_gc

tune_allocators()
tune_gc()
records, wave = int(sys.argv[1]), int(sys.argv[2])
T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
template_id = str(uuid.UUID(int=0))
payload = (b"0123456789abcdef" * 65536)  # 1 MiB
template = encode(template_id, "request_body", payload, emitted_at=T0, content_type="text/plain")

async def main():
    pipeline, stats = _pipeline(Path(tempfile.mkdtemp(prefix="bench-rss-")), max_rows=100_000)
    await pipeline.open_partition("0", None)
    seq = 0
    for start in range(0, records, wave):
        ids = [str(uuid.UUID(int=start + i + 1)) for i in range(min(wave, records - start))]
        for index in range(len(template)):
            for i in range(0, len(ids), 50):
                events = []
                for rid in ids[i : i + 50]:
                    body = template[index].replace(template_id.encode(), rid.encode())
                    events.append(SourceEvent(body, seq, str(seq * 7), T0 + timedelta(milliseconds=seq)))
                    seq += 1
                await pipeline.on_events("0", events)
    await pipeline.close_partition("0", flush=True)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec.
    hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print(json.dumps({"rss": int(hwm.split()[1]) * 1024,
                      "written": stats.records_written.get("payloads", 0),
                      "evicted": stats.dead_letters.get("pending_bytes_exceeded", 0)}))

asyncio.run(main())
"""


def _rss_figures(quick: bool) -> list[Figure]:
    from consumer.settings import ConsumerSettings

    cap = ConsumerSettings.model_fields["max_pending_bytes"].default
    records, wave = (600, 300) if quick else (1500, 300)
    out = (
        subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, str(records), str(wave)],
            cwd=REPO,
            env={**os.environ, **CONTAINER_ENV},
            capture_output=True,
            check=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    result = json.loads(out)
    return [
        Figure(
            "peak RSS, 1 MB body records, default pending cap",
            result["rss"] / MiB,
            "MiB",
            "pending-bytes cap",
            cap / MiB,
            "<= cap + 200 MiB",
            f"{records} records of 8 chunks, {wave} interleaved at a time: {result['written']} written, "
            f"{result['evicted']} chunks evicted over the cap",
        )
    ]


def run(quick: bool) -> list[Figure]:
    return [*_core_figures(quick), *_sdk_figures(quick), *_rss_figures(quick)]


if __name__ == "__main__":
    for figure in run(quick="--quick" in sys.argv):
        print(figure)
    del resource
