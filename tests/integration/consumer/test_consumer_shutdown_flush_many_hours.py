"""Regression found by the end-to-end test (tests/e2e): the flush at shutdown must complete however long it takes.

A month of sparse traffic puts each record in its own event hour, so the final flush writes hundreds of files.
`--until-idle` then stopped the process while that flush was still writing: only the first files reached the
lake, `flushes` stayed 0, and the exit code was 0. Every record must be in the lake when `consume` exits 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import duckdb
from azure.eventhub import EventData
from azure.eventhub.aio import EventHubProducerClient

from schemas.codec import encode

RECORDS = 300


def usage(i: int) -> tuple[str, bytes]:
    rid = f"sparse-{i:05d}"
    moment = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(hours=2.4 * i)  # a new hour for every record
    record = {
        "record_id": rid,
        "event_time": moment.isoformat(),
        "status_code": 200,
        "operation": "embeddings",
        "usage_source": "reported",
        "prompt_tokens": 10 + i,
        "total_tokens": 10 + i,
    }
    return rid, encode(rid, "usage", json.dumps(record).encode(), emitted_at=moment)[0]


async def send_all(connection_string: str) -> None:
    async with EventHubProducerClient.from_connection_string(connection_string) as producer:
        for i in range(RECORDS):
            rid, body = usage(i)
            batch = await producer.create_batch(partition_key=rid)
            batch.add(EventData(body))
            await producer.send_batch(batch)


def test_every_record_is_in_the_lake_when_consume_exits(localhub, tmp_path):
    asyncio.run(send_all(localhub.connection_string("usage")))
    env = os.environ | {
        "CHARGEBACK_EVENTHUB_CONNECTION_STRING": localhub.connection_string("usage"),
        "CHARGEBACK_LAKE_URL": str(tmp_path / "lake"),
        "CHARGEBACK_CHECKPOINT_URL": str(tmp_path / "checkpoints"),
        "CHARGEBACK_HEALTH_PORT": "0",
        "CHARGEBACK_LOAD_BALANCING_INTERVAL_SECONDS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "chargeback", "consume", "--until-idle", "2"],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    rows = duckdb.sql(
        f"SELECT count(*), count(DISTINCT record_id) FROM read_parquet('{tmp_path}/lake/usage/**/*.parquet')"
    ).fetchall()[0]
    assert rows == (RECORDS, RECORDS), done.stderr.decode()[-3000:]
