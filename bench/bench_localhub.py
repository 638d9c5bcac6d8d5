"""localhub: events/s sent and received through the local Event Hubs server with the real async SDK, and the
server's own CPU share (the server runs in a subprocess; its CPU time is read with psutil)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from azure.eventhub import EventData
from azure.eventhub.aio import EventHubConsumerClient, EventHubProducerClient

from bench.figures import Figure
from localhub.config import connection_string

REPO = Path(__file__).resolve().parents[1]
HUB = "bench"
PARTITIONS = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "localhub", "--port", str(port), "--hub", f"{HUB}:{PARTITIONS}"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "CHARGEBACK_LOG_LEVEL": "WARNING"},
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


async def _send(cs: str, count: int, size: int) -> float:
    body = b"x" * size
    async with EventHubProducerClient.from_connection_string(cs) as producer:
        await producer.get_eventhub_properties()  # connect before the clock starts
        started = time.perf_counter()
        sent = 0
        while sent < count:
            batch = await producer.create_batch()
            while sent < count:
                try:
                    batch.add(EventData(body))
                except ValueError:
                    break
                sent += 1
            await producer.send_batch(batch)
        return time.perf_counter() - started


async def _receive(cs: str, count: int) -> float:
    received = 0
    done = asyncio.Event()
    started = 0.0

    async def on_batch(context, events) -> None:
        nonlocal received, started
        if not started:
            started = time.perf_counter()
        received += len(events)
        if received >= count:
            done.set()

    client = EventHubConsumerClient.from_connection_string(cs, consumer_group="$Default", prefetch=300)
    task = asyncio.create_task(
        client.receive_batch(on_batch, max_batch_size=300, starting_position="-1", max_wait_time=1)
    )
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - started
    await client.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return elapsed


def _measure(size: int, count: int) -> list[Figure]:
    port = _free_port()
    server = _start_server(port)
    cs = connection_string("127.0.0.1", port, HUB)
    try:
        proc = psutil.Process(server.pid)
        cpu0 = _cpu(proc)
        send_s = asyncio.run(_send(cs, count, size))
        cpu1 = _cpu(proc)
        recv_s = asyncio.run(_receive(cs, count))
        cpu2 = _cpu(proc)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    label = "100 B" if size < 1000 else f"{size // 1024} KB"
    notes = f"{count:,} events, 4 partitions, 1 client process; server in its own process"
    return [
        Figure(f"send {label} events (async send_batch)", count / send_s, "events/s", notes=notes),
        Figure(f"server CPU while sending {label}", 100 * (cpu1 - cpu0) / send_s, "% of a core", notes=notes),
        Figure(
            f"receive {label} events (async receive_batch)",
            count / recv_s,
            "events/s",
            notes=notes + "; the ceiling for the consumer",
        ),
        Figure(f"server CPU while receiving {label}", 100 * (cpu2 - cpu1) / recv_s, "% of a core", notes=notes),
    ]


def run(quick: bool) -> list[Figure]:
    figures = _measure(100, 5_000 if quick else 40_000)
    figures += _measure(10 * 1024, 1_000 if quick else 8_000)
    return figures
