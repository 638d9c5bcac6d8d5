"""The consumer process under faults: kill -9 and restart, two consumers with one dying, SIGTERM, a storage
outage. Every record must land exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable

import pyarrow as pa
import pytest

from tests.integration.consumer.conftest import consumer_env, start_consumer
from tests.integration.consumer.sending import send
from tests.integration.consumer.test_consume import _lake_ids, _messages, _run
from tests.support.ports import free_port
from tests.unit.consumer.streams import read_column

pytestmark = pytest.mark.integration


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def _exactly_once(found: list[str], expected: list[str]) -> None:
    doubled = [rid for rid, n in Counter(found).items() if n > 1]
    assert not doubled, f"{len(doubled)} records written twice"
    assert sorted(found) == sorted(expected)


def test_kill_9_mid_run_then_restart_writes_every_record_once(localhub, tmp_path):
    messages, ids = _messages(0, 3000)
    asyncio.run(send(localhub.connection_string("usage"), messages))
    lake = tmp_path / "lake"
    env = consumer_env(localhub.connection_string("usage"), str(lake), str(tmp_path / "ckpt"))
    proc = start_consumer(env, log=tmp_path / "first.log")
    try:
        _wait_for(lambda: len(list(lake.glob("usage/**/*.parquet"))) >= 3, "the first files")
    finally:
        proc.kill()
        proc.wait(30)
    partial = len(read_column(lake, "usage", "record_id"))
    assert _run(env, tmp_path / "second.log", "--until-idle", "3") == 0
    _exactly_once(read_column(lake, "usage", "record_id"), ids)
    payloads = read_column(lake, "payloads", "record_id")
    assert sorted(payloads) == sorted(set(payloads)) and len(payloads) == len(range(0, 3000, 7))
    assert read_column(lake, "dead_letters", "record_id") == []
    print(f"killed after {partial} of {len(ids)} usage rows")


def test_two_consumers_share_partitions_and_one_takes_over_when_the_other_dies(localhub, tmp_path):
    lake = tmp_path / "lake"
    env = consumer_env(localhub.connection_string("usage"), str(lake), str(tmp_path / "ckpt"))
    first = start_consumer(env, log=tmp_path / "a.log")
    second = start_consumer(env, log=tmp_path / "b.log")
    try:
        _wait_for(
            lambda: (
                "partition_opened" in (tmp_path / "a.log").read_text()
                and "partition_opened" in (tmp_path / "b.log").read_text()
            ),
            "both consumers to own partitions",
        )
        batch1, ids1 = _messages(0, 400)
        asyncio.run(send(localhub.connection_string("usage"), batch1))
        _wait_for(lambda: len(read_column(lake, "usage", "record_id")) >= len(ids1), "the first batch")
        first.kill()
        first.wait(30)
        batch2, ids2 = _messages(400, 400)
        asyncio.run(send(localhub.connection_string("usage"), batch2))
        _wait_for(lambda: len(read_column(lake, "usage", "record_id")) >= len(ids1 + ids2), "the second batch")
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
    _exactly_once(read_column(lake, "usage", "record_id"), ids1 + ids2)
    shut_down_by_b = (tmp_path / "b.log").read_text().count("CloseReason.SHUTDOWN")
    assert shut_down_by_b == 4, "the survivor should own, flush and release all four partitions in the end"


def test_storage_outage_is_retried_and_loses_nothing(localhub, azurite, tmp_path):
    lake_url = f"{azurite.blob_endpoint}/lake"
    port = free_port()
    env = consumer_env(
        localhub.connection_string("usage"),
        lake_url,
        f"{azurite.blob_endpoint}/checkpoints",
        CHARGEBACK_STORAGE_CONNECTION_STRING=azurite.connection_string,
        CHARGEBACK_HEALTH_PORT=str(port),
    )

    def lake_ids() -> list[str]:
        try:
            return _lake_ids(lake_url, "usage", azurite.connection_string)
        except (OSError, pa.ArrowInvalid):  # storage down, or a table directory with no file in it yet
            return []

    def ready() -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                json.loads(response.read())
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    proc = start_consumer(env, log=tmp_path / "consumer.log")
    try:
        batch1, ids1 = _messages(0, 200)
        asyncio.run(send(localhub.connection_string("usage"), batch1))
        _wait_for(lambda: len(lake_ids()) >= len(ids1), "the first batch")
        _wait_for(lambda: ready() == 200, "readiness")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            assert response.status == 200
        azurite.stop()
        batch2, ids2 = _messages(200, 200)
        asyncio.run(send(localhub.connection_string("usage"), batch2))
        _wait_for(lambda: ready() == 503, "the consumer to report storage trouble")
        azurite.start()
        _wait_for(lambda: len(lake_ids()) >= len(ids1 + ids2), "the second batch after the outage")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    _exactly_once(lake_ids(), ids1 + ids2)
    assert "storage_retry" in (tmp_path / "consumer.log").read_text()


def test_start_position_latest_skips_the_backlog_of_a_new_consumer_group(localhub, tmp_path):
    old, _ = _messages(0, 50, bodies=False)
    asyncio.run(send(localhub.connection_string("usage"), old))
    lake = tmp_path / "lake"
    log = tmp_path / "consumer.log"
    env = consumer_env(
        localhub.connection_string("usage"), str(lake), str(tmp_path / "ckpt"), CHARGEBACK_START_POSITION="latest"
    )
    proc = start_consumer(env, log=log)
    try:
        _wait_for(lambda: log.exists() and log.read_text().count('"partition_caught_up"') >= 4, "all partitions idle")
        new, new_ids = _messages(50, 30, bodies=False)
        asyncio.run(send(localhub.connection_string("usage"), new))
        _wait_for(lambda: len(read_column(lake, "usage", "record_id")) >= len(new_ids), "the new records")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    _exactly_once(read_column(lake, "usage", "record_id"), new_ids)
