"""The long-running consumer process: readiness through a storage outage, SIGTERM, a new consumer group at `latest`.
Every record must land exactly once.

Kill -9 and restart, and two consumers with one SIGKILLed, are the fault suite's scenarios (tests/reliability:
`test_consumer_killed_at_ten_random_points`, `test_two_consumers_one_killed_mid_run`), which account for every
record, body and dead letter; the copies that were here are gone. What only this file covers: /healthz and /readyz
through a Blob outage, the `storage_retry` log, a SIGTERM that flushes, releases every partition it owns and exits 0,
and CHARGEBACK_START_POSITION=latest."""

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

from tests.support.consumer_process import consumer_env, start_consumer
from tests.support.consumer_process import usage_messages as _messages
from tests.support.lakes import lake_ids as _lake_ids
from tests.support.ports import free_port
from tests.support.sending import send
from tests.support.streams import read_column

pytestmark = pytest.mark.integration


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
    # A bound for a loaded machine (Azurite is slow under load), not a speed check.
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def _exactly_once(found: list[str], expected: list[str]) -> None:
    doubled = [rid for rid, n in Counter(found).items() if n > 1]
    assert not doubled, f"{len(doubled)} records written twice"
    assert sorted(found) == sorted(expected)


def test_storage_outage_is_retried_and_loses_nothing(localhub, azurite, tmp_path):
    lake_url = f"{azurite.blob_endpoint}/lake"
    port = free_port()
    env = consumer_env(
        localhub.connection_string("usage"),
        lake_url,
        f"{azurite.blob_endpoint}/checkpoints",
        CHARGEBACK_STORAGE_CONNECTION_STRING=azurite.connection_string,
        CHARGEBACK_HEALTH_PORT=str(port),
        # SIGTERM's final flush goes to Azurite, which takes seconds per file on a loaded machine.
        CHARGEBACK_SHUTDOWN_DEADLINE_SECONDS="120",
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
    # SIGTERM: the only consumer owned all four partitions, and released each one as a clean shutdown.
    assert log.read_text().count("CloseReason.SHUTDOWN") == 4
