"""`chargeback consume` as a real process: local Event Hubs server, real SDK, file and Blob checkpoint stores,
local and Azurite lakes, DuckDB to read the Parquet back."""

from __future__ import annotations

import asyncio
import json

import pyarrow.dataset as ds
import pytest

from schemas.codec import encode
from schemas.lake import open_location
from tests.integration.consumer.conftest import consumer_env, start_consumer
from tests.integration.consumer.sending import send
from tests.unit.consumer.streams import T0, params, read_column, rid, usage_record

pytestmark = pytest.mark.integration


def _messages(start: int, count: int, *, bodies: bool = True) -> tuple[list[tuple[str, bytes]], list[str]]:
    messages, ids = [], []
    for i in range(start, start + count):
        record_id = rid(i)
        ids.append(record_id)
        payload = json.dumps(usage_record(record_id, i)).encode()
        messages += [(record_id, b) for b in encode(record_id, "usage", payload, emitted_at=T0)]
        if bodies and i % 7 == 0:
            body = (f"body {i} " * 300).encode()
            messages += [
                (record_id, b)
                for b in encode(record_id, "request_body", body, emitted_at=T0, params=params(chunk_bytes=900))
            ]
    return messages, ids


def _run(env: dict[str, str], log, *args: str, timeout: float = 90) -> int:
    proc = start_consumer(env, *args, log=log)
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()


def _lake_ids(location_url: str, table: str, connection_string: str | None = None) -> list[str]:
    location = open_location(location_url, connection_string=connection_string)
    dataset = ds.dataset(
        location.table_root(table), filesystem=location.filesystem, format="parquet", partitioning="hive"
    )
    return dataset.to_table(columns=["record_id"]).column(0).to_pylist()


def test_consume_until_idle_local_lake_and_file_checkpoints(localhub, tmp_path):
    messages, ids = _messages(0, 150)
    asyncio.run(send(localhub.connection_string("usage"), messages))
    env = consumer_env(localhub.connection_string("usage"), str(tmp_path / "lake"), str(tmp_path / "ckpt"))
    assert _run(env, tmp_path / "consumer.log", "--until-idle", "3") == 0
    assert sorted(read_column(tmp_path / "lake", "usage", "record_id")) == sorted(ids)
    assert sorted(read_column(tmp_path / "lake", "payloads", "record_id")) == sorted(rid(i) for i in range(0, 150, 7))
    # A second run finds nothing new: the checkpoints and flush state hold.
    more, more_ids = _messages(150, 20, bodies=False)
    asyncio.run(send(localhub.connection_string("usage"), more))
    assert _run(env, tmp_path / "consumer.log", "--until-idle", "3") == 0
    assert sorted(read_column(tmp_path / "lake", "usage", "record_id")) == sorted(ids + more_ids)


def test_consume_to_azurite_lake_with_blob_checkpoints(localhub, azurite, tmp_path):
    messages, ids = _messages(0, 80)
    asyncio.run(send(localhub.connection_string("usage"), messages))
    lake_url = f"{azurite.blob_endpoint}/lake/prod"
    env = consumer_env(
        localhub.connection_string("usage"),
        lake_url,
        f"{azurite.blob_endpoint}/checkpoints/chargeback",
        CHARGEBACK_STORAGE_CONNECTION_STRING=azurite.connection_string,
    )
    assert _run(env, tmp_path / "consumer.log", "--until-idle", "3") == 0
    assert sorted(_lake_ids(lake_url, "usage", azurite.connection_string)) == sorted(ids)
