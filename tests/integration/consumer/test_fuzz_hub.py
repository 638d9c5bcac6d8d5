"""Consumer-level fuzzing through the hub (issue 13): hostile envelopes and records sent with the real SDK to the
local Event Hubs server, read by `chargeback consume --until-idle` as a real process. The consumer exits 0 (it
never stops on data), every input ends as a row or a dead letter at its own stream coordinates, and nothing is
written twice. Fewer examples than the in-process fuzz (tests/unit/consumer/test_fuzz.py): each one is a
consumer process."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from azure.eventhub import EventData
from azure.eventhub.aio import EventHubProducerClient
from hypothesis import HealthCheck, Phase, example, given, settings

from schemas.codec import encode
from tests.integration.consumer.conftest import consumer_env, start_consumer
from tests.support.localhub import running_localhub
from tests.unit.consumer.hostile import Item, streams
from tests.unit.consumer.streams import T0, usage_record
from tests.unit.consumer.test_fuzz import TICK_ID, account, worst_cases

pytestmark = pytest.mark.integration

EXAMPLES = 2
HUBS = [f"fuzz{i}" for i in range(EXAMPLES + 2)]


@pytest.fixture(scope="module")
def fuzz_hub():
    with running_localhub(hubs={name: 1 for name in HUBS}) as hub:
        yield hub, itertools.count()


async def _send(connection_string: str, bodies: list[bytes], tick: list[bytes]) -> None:
    """The bodies, then (past the TTL in event time) the tick that expires whatever is left incomplete."""
    async with EventHubProducerClient.from_connection_string(connection_string) as producer:
        for body in bodies:  # one event per send: a hostile body can fill a batch by itself
            batch = await producer.create_batch(partition_id="0")
            batch.add(EventData(body))
            await producer.send_batch(batch)
        await asyncio.sleep(1.2)
        batch = await producer.create_batch(partition_id="0")
        for body in tick:
            batch.add(EventData(body))
        await producer.send_batch(batch)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is a consumer process
    suppress_health_check=list(HealthCheck),
)
@given(items=streams(max_items=6))
@example(items=worst_cases())
def test_hostile_input_through_the_hub_never_stops_the_consumer(fuzz_hub, tmp_path_factory, items: list[Item]):
    hub, counter = fuzz_hub
    name = HUBS[next(counter) % len(HUBS)]
    work = tmp_path_factory.mktemp(name)
    connection = hub.connection_string(name)
    before = len(hub.events(name, "0"))
    bodies = [body for item in items for body in item.bodies]
    tick = json.dumps(usage_record(TICK_ID, 0)).encode()
    asyncio.run(_send(connection, bodies, encode(TICK_ID, "usage", tick, emitted_at=T0)))
    events = hub.events(name, "0")[before:]
    sequence = iter(event.sequence_number for event in events)
    seqs: dict[str, list[int]] = {}
    for item in items:
        seqs[item.record_id] = [next(sequence) for _ in item.bodies]
    seqs[TICK_ID] = list(sequence)
    env = consumer_env(
        connection,
        str(work / "lake"),
        str(work / "ckpt"),
        CHARGEBACK_EVENTHUB_NAME=name,
        CHARGEBACK_RECORD_TTL_SECONDS="1",
        CHARGEBACK_LAG_POLL_SECONDS="0.5",
    )
    proc = start_consumer(env, "--until-idle", "1", log=work / "consumer.log")
    try:
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, (code, (work / "consumer.log").read_text(errors="replace")[-3000:])
    problems = account(work / "lake", seqs)
    assert not problems, [(item.name, item.record_id) for item in items] + problems
