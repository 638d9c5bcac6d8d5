"""`chargeback consume` as a real process: local Event Hubs server, real SDK, file and Blob checkpoint stores,
local and Azurite lakes, DuckDB to read the Parquet back."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from datetime import datetime

import pytest

from tests.support.consumer_process import consumer_env, run_consumer, usage_messages
from tests.support.lakes import lake_ids
from tests.support.sending import send
from tests.support.streams import read, read_column, rid

pytestmark = pytest.mark.integration


# Old names, kept for tests written against them this session.
_messages = usage_messages
_run = run_consumer
_lake_ids = lake_ids


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


def _simulate(tmp_path, name: str, request: dict, response: dict, *extra: str) -> list[tuple[str, bytes]]:
    """What `chargeback policy simulate` says the policy would send for one exchange: (partition key, body)."""
    req, resp = tmp_path / f"{name}.req.json", tmp_path / f"{name}.resp.json"
    req.write_text(json.dumps(request))
    resp.write_text(json.dumps(response))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "chargeback",
            "policy",
            "simulate",
            "--request",
            str(req),
            "--response",
            str(resp),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    return [(m["partition_key"], m["body"].encode()) for m in map(json.loads, out.splitlines())]


async def _send_keyed(connection_string: str, messages: list[tuple[str, bytes]]) -> None:
    from azure.eventhub import EventData
    from azure.eventhub.aio import EventHubProducerClient

    async with EventHubProducerClient.from_connection_string(connection_string) as producer:
        for key in dict.fromkeys(k for k, _ in messages):
            batch = await producer.create_batch(partition_key=key)
            for k, body in messages:
                if k == key:
                    batch.add(EventData(body))
            await producer.send_batch(batch)


def _usage_payloads(messages: list[tuple[str, bytes]]) -> dict[str, dict]:
    out = {}
    for _, body in messages:
        envelope = json.loads(body)
        if envelope["kind"] == "usage":
            out[envelope["record_id"]] = json.loads(base64.b64decode(envelope["data"]))
    return out


def test_policy_simulate_output_lands_in_the_lake_exactly(localhub, tmp_path):
    url = "https://contoso-apim.azure-api.net/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    request = {
        "method": "POST",
        "url": url,
        "headers": {"Content-Type": "application/json", "x-team": "alpha"},
        "body": {"messages": [{"role": "user", "content": "hello"}]},
    }
    ok = {
        "status": 200,
        "headers": {"Content-Type": "application/json", "x-ms-region": "Sweden Central"},
        "body": {
            "id": "c1",
            "model": "gpt-4o-2024-11-20",
            "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
        },
    }
    throttled = {
        "status": 429,
        "headers": {"Content-Type": "application/json"},
        "body": {"error": {"code": "429", "message": "Rate limit"}},
    }
    messages = _simulate(tmp_path, "ok", request, ok, "--capture", "both")
    messages += _simulate(tmp_path, "throttled", request, throttled)
    big = dict(ok, body={**ok["body"], "choices": [{"message": {"content": "x" * 400_000}}]})
    messages += _simulate(tmp_path, "big", request, big, "--capture", "response")
    expected = _usage_payloads(messages)
    assert len(expected) == 3 and len(messages) > 6, "the big response should span several envelopes"
    asyncio.run(_send_keyed(localhub.connection_string("usage"), messages))
    env = consumer_env(localhub.connection_string("usage"), str(tmp_path / "lake"), str(tmp_path / "ckpt"))
    assert _run(env, tmp_path / "consumer.log", "--until-idle", "3") == 0
    rows = {r["record_id"]: r for r in read(tmp_path / "lake", "usage")}
    assert sorted(rows) == sorted(expected)
    for record_id, record in expected.items():
        row = rows[record_id]
        for key, value in record.items():
            if key == "event_time":
                assert row[key] == datetime.fromisoformat(value), key
            elif key == "tags":
                assert dict(row[key]) == value
            else:
                assert row[key] == value, key
    bodies = read(tmp_path / "lake", "payloads")
    assert sorted(b["part"] for b in bodies) == ["request", "response", "response"]
    assert max(len(b["body"]) for b in bodies) > 400_000
    assert read(tmp_path / "lake", "dead_letters") == []


async def _send_to_partition(connection_string: str, bodies: list[bytes], partition: str = "0") -> None:
    from azure.eventhub import EventData
    from azure.eventhub.aio import EventHubProducerClient

    async with EventHubProducerClient.from_connection_string(connection_string) as producer:
        for body in bodies:  # one event per send: a 199.5 KB body fills a batch by itself
            batch = await producer.create_batch(partition_id=partition)
            batch.add(EventData(body))
            await producer.send_batch(batch)


def test_bad_input_through_the_hub_is_dead_lettered_at_its_stream_coordinates(localhub, tmp_path):
    good = [b for _, b in _messages(0, 3, bodies=False)[0]]
    truncated = (b'{"v":1,"record_id":"r","data":"' + b"QUFB" * 50_000)[:199_500]
    bad = [b"not json at all", truncated, b'{"v":7,"record_id":"x"}', good[1].replace(b'"data":"', b'"data":"!!')]
    asyncio.run(_send_to_partition(localhub.connection_string("usage"), [good[0], *bad, good[2]]))
    env = consumer_env(localhub.connection_string("usage"), str(tmp_path / "lake"), str(tmp_path / "ckpt"))
    assert _run(env, tmp_path / "consumer.log", "--until-idle", "3") == 0
    stored = {e.sequence_number: e for e in localhub.events("usage", "0")}
    letters = sorted(read(tmp_path / "lake", "dead_letters"), key=lambda r: r["sequence_number"])
    assert [r["reason"] for r in letters] == ["envelope_not_json", "message_truncated", "unknown_version", "bad_base64"]
    for row in letters:
        event = stored[row["sequence_number"]]
        assert row["offset"] == str(event.offset) and row["offset"] != str(row["sequence_number"])
        assert row["enqueued_time"] == event.enqueued_time
        assert bytes(row["raw_body"]) == event.body[:65_536] and row["raw_bytes"] == len(event.body)
    assert sorted(read_column(tmp_path / "lake", "usage", "record_id")) == sorted([rid(0), rid(2)])


def test_an_envelope_under_another_records_partition_key_is_dead_lettered(localhub, tmp_path):
    # The policy sends every message with partition key = record_id. A message whose envelope names another record
    # (a corrupted id) must not attach its payload to that record: the consumer checks the key the hub delivers.
    good = [b for _, b in _messages(0, 2, bodies=False)[0]]
    asyncio.run(_send_keyed(localhub.connection_string("usage"), [(rid(0), good[0]), ("someone-else", good[1])]))
    env = consumer_env(localhub.connection_string("usage"), str(tmp_path / "lake"), str(tmp_path / "ckpt"))
    assert _run(env, tmp_path / "consumer.log", "--until-idle", "3") == 0
    (letter,) = read(tmp_path / "lake", "dead_letters")
    assert letter["reason"] == "envelope_invalid" and letter["record_id"] == rid(1)
    assert "partition key" in letter["detail"] and "someone-else" in letter["detail"]
    assert read_column(tmp_path / "lake", "usage", "record_id") == [rid(0)]
