"""The SDK contract: if an azure-eventhub upgrade changes the protocol the local server speaks, this fails.

Real SDK (async clients), real AMQP, real `BlobCheckpointStore` on Azurite: send with partition keys → receive all,
in order per partition → checkpoint → server restart (same port, same data) → resume with nothing re-delivered
past the checkpoint → two consumer clients split the partitions with no overlap → one dies, the other takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass, field

from azure.eventhub import EventData
from azure.eventhub.aio import EventHubConsumerClient, EventHubProducerClient
from azure.eventhub.extensions.checkpointstoreblobaio import BlobCheckpointStore
from azure.storage.blob import BlobServiceClient

from localhub import LocalHub
from tests.support.ports import free_port

HUB = "usage"
PARTITIONS = 4
FAST_BALANCING = {"load_balancing_interval": 1, "partition_ownership_expiration_interval": 4}


@dataclass
class Received:
    """What one consumer client saw, and which of its checkpoints have completed."""

    events: list[tuple[str, int, str, str]] = field(default_factory=list)
    checkpointed: int = 0
    partitions: set[str] = field(default_factory=set)


async def send_keyed(producer: EventHubProducerClient, keys: list[str], per_key: int, tag: str) -> list[str]:
    bodies = []
    for key in keys:
        batch = await producer.create_batch(partition_key=key)
        for i in range(per_key):
            body = f"{tag}|{key}|{i}"
            batch.add(EventData(body))
            bodies.append(body)
        await producer.send_batch(batch)
    return bodies


def consumer(hub: LocalHub, store: BlobCheckpointStore, **kwargs) -> EventHubConsumerClient:
    return EventHubConsumerClient.from_connection_string(
        hub.connection_string(HUB), consumer_group="$Default", checkpoint_store=store, **kwargs
    )


async def run_consumer(client: EventHubConsumerClient, seen: Received) -> asyncio.Task:
    async def on_event(context, event) -> None:
        if event is None:
            return
        seen.events.append((context.partition_id, event.sequence_number, event.offset, event.body_as_str()))
        seen.partitions.add(context.partition_id)
        await context.update_checkpoint(event)
        seen.checkpointed += 1  # counted only once the checkpoint is written

    return asyncio.create_task(client.receive(on_event=on_event, starting_position="-1"))


async def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


async def stop(client: EventHubConsumerClient, task: asyncio.Task) -> None:
    """Close the client (releasing its partitions). `receive()` itself only returns after its load-balancing
    sleep, so the task is then cancelled rather than awaited."""
    await client.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def assert_in_order_per_partition(events: list[tuple[str, int, str, str]]) -> None:
    by_partition: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for partition, seq, offset, _ in events:
        by_partition[partition].append((seq, offset))
    for partition, seen in by_partition.items():
        seqs = [s for s, _ in seen]
        assert seqs == sorted(seqs), f"partition {partition} out of order: {seqs}"
        offsets = [int(o) for _, o in seen]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


async def test_sdk_contract_send_receive_checkpoint_restart_balance_takeover(azurite, tmp_path):
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container("checkpoints")
    port = free_port()
    keys = [f"request-{n}" for n in range(24)]

    # 1. send with partition keys, receive everything in order per partition, checkpointing every event
    hub = await LocalHub(hubs={HUB: PARTITIONS}, port=port, data_dir=tmp_path / "hub").start()
    try:
        async with EventHubProducerClient.from_connection_string(hub.connection_string(HUB)) as producer:
            first = await send_keyed(producer, keys, per_key=3, tag="first")
        stored = hub.all_events(HUB)
        assert sum(len(v) for v in stored.values()) == len(first)
        key_partitions = {e.partition_key: pid for pid, events in stored.items() for e in events}
        assert len(key_partitions) == len(keys)
        for pid, events in stored.items():
            assert all(key_partitions[e.partition_key] == pid for e in events), "a key spread over partitions"

        async with BlobCheckpointStore.from_connection_string(azurite.connection_string, "checkpoints") as store:
            seen = Received()
            client = consumer(hub, store)
            task = await run_consumer(client, seen)
            await wait_for(lambda: seen.checkpointed >= len(first), 60, "all first events checkpointed")
            await stop(client, task)
        assert sorted(body for *_, body in seen.events) == sorted(first)
        assert_in_order_per_partition(seen.events)
        for key in keys:
            bodies = [body for *_, body in seen.events if f"|{key}|" in body]
            assert bodies == [f"first|{key}|{i}" for i in range(3)]
    finally:
        await hub.stop()

    # 2. restart the server (same port, same data) and resume: only new events, nothing before the checkpoint
    hub = await LocalHub(hubs={HUB: PARTITIONS}, port=port, data_dir=tmp_path / "hub").start()
    try:
        assert sum(len(v) for v in hub.all_events(HUB).values()) == len(first), "events lost across a restart"
        async with EventHubProducerClient.from_connection_string(hub.connection_string(HUB)) as producer:
            second = await send_keyed(producer, keys[:8], per_key=2, tag="second")
        async with BlobCheckpointStore.from_connection_string(azurite.connection_string, "checkpoints") as store:
            resumed = Received()
            client = consumer(hub, store)
            task = await run_consumer(client, resumed)
            await wait_for(lambda: resumed.checkpointed >= len(second), 60, "the new events after a restart")
            await asyncio.sleep(1.5)  # anything re-delivered would arrive now
            await stop(client, task)
        assert sorted(body for *_, body in resumed.events) == sorted(second), "re-delivered past the checkpoint"

        # 3. two clients split the partitions with no overlap; 4. one dies, the other takes over
        async with BlobCheckpointStore.from_connection_string(azurite.connection_string, "checkpoints") as store:
            a_seen, b_seen = Received(), Received()
            client_a, client_b = consumer(hub, store, **FAST_BALANCING), consumer(hub, store, **FAST_BALANCING)
            task_a = await run_consumer(client_a, a_seen)
            task_b = await run_consumer(client_b, b_seen)

            async def owners() -> dict[str, str]:
                listed = await store.list_ownership(f"127.0.0.1:{port}", HUB, "$Default")
                return {o["partition_id"]: o["owner_id"] for o in listed}

            async def balanced() -> bool:
                owned = await owners()
                counts = defaultdict(int)
                for owner in owned.values():
                    counts[owner] += 1
                return len(owned) == PARTITIONS and sorted(counts.values()) == [2, 2]

            deadline = asyncio.get_running_loop().time() + 60
            while not await balanced():
                assert asyncio.get_running_loop().time() < deadline, f"never balanced: {await owners()}"
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)  # let a stolen partition's first owner finish closing
            a_seen.events.clear()
            b_seen.events.clear()
            async with EventHubProducerClient.from_connection_string(hub.connection_string(HUB)) as producer:
                third = await send_keyed(producer, keys, per_key=1, tag="third")
            await wait_for(
                lambda: len(a_seen.events) + len(b_seen.events) >= len(third), 60, "the balanced clients' events"
            )
            a_parts = {p for p, *_ in a_seen.events}
            b_parts = {p for p, *_ in b_seen.events}
            assert not a_parts & b_parts, f"both clients read {a_parts & b_parts}"
            assert sorted(b for *_, b in a_seen.events + b_seen.events) == sorted(third)

            await stop(client_a, task_a)  # client A dies
            b_seen.events.clear()
            async with EventHubProducerClient.from_connection_string(hub.connection_string(HUB)) as producer:
                fourth = await send_keyed(producer, keys, per_key=1, tag="fourth")
            await wait_for(lambda: len(b_seen.events) >= len(fourth), 60, "client B taking over every partition")
            await asyncio.sleep(1)
            await stop(client_b, task_b)
        assert sorted(b for *_, b in b_seen.events) == sorted(fourth), "takeover re-delivered or lost events"
        assert {p for p, *_ in b_seen.events} == {str(p) for p in range(PARTITIONS)}
    finally:
        await hub.stop()
