"""Behaviour the SDK relies on, through the real async SDK: start positions, offsets, epochs, last-enqueued
properties, 1 MB events, management, fault injection and robustness against bad clients."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from azure.eventhub import EventData
from azure.eventhub.aio import EventHubConsumerClient, EventHubProducerClient
from azure.eventhub.exceptions import EventHubError

from localhub import LocalHub

HUB = "usage"


async def collect(
    cs: str, partition_id: str, count: int, timeout: float = 20, last_enqueued: list | None = None, **receive_kwargs
) -> list:
    """Receive from one partition until `count` events arrived (or the timeout), then close."""
    got: list = []
    done = asyncio.Event()

    async def on_event(context, event) -> None:
        got.append(event)
        if last_enqueued is not None:
            last_enqueued.append(context.last_enqueued_event_properties)
        if len(got) >= count:
            done.set()

    client = EventHubConsumerClient.from_connection_string(cs, consumer_group="$Default")
    task = asyncio.create_task(client.receive(on_event=on_event, partition_id=partition_id, **receive_kwargs))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout)
    await client.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return got


async def send(cs: str, bodies: list[str], partition_id: str = "0") -> None:
    async with EventHubProducerClient.from_connection_string(cs) as producer:
        batch = await producer.create_batch(partition_id=partition_id)
        for body in bodies:
            batch.add(EventData(body))
        await producer.send_batch(batch)


@pytest.fixture
async def hub():
    async with LocalHub(hubs={HUB: 2, "other": 1}) as server:
        yield server


async def test_every_start_position_matches_the_service(hub):
    cs = hub.connection_string(HUB)
    await send(cs, [f"e{i}" for i in range(6)])
    stored = hub.events(HUB, "0")
    assert [e.sequence_number for e in stored] == list(range(6))
    assert all(str(e.sequence_number) != e.offset_str for e in stored), "offsets must differ from sequence numbers"
    third = stored[3]
    cases = {
        "-1": ("-1", False, 0),
        "seq exclusive": (3, False, 4),
        "seq inclusive": (3, True, 3),
        "offset exclusive": (third.offset_str, False, 4),
        "offset inclusive": (third.offset_str, True, 3),
        "enqueued time": (stored[0].enqueued_time, True, 0),
    }
    for name, (position, inclusive, first_seq) in cases.items():
        got = await collect(cs, "0", 6 - first_seq, starting_position=position, starting_position_inclusive=inclusive)
        assert [e.sequence_number for e in got] == list(range(first_seq, 6)), name
        assert [e.body_as_str() for e in got] == [f"e{i}" for i in range(first_seq, 6)], name
        assert [e.offset for e in got] == [e.offset_str for e in stored[first_seq:]], name


async def test_latest_only_delivers_events_sent_after_attach(hub):
    cs = hub.connection_string(HUB)
    await send(cs, ["old"])
    got: list = []

    async def on_event(context, event) -> None:
        got.append(event.body_as_str())

    client = EventHubConsumerClient.from_connection_string(cs, consumer_group="any-group-name")
    task = asyncio.create_task(client.receive(on_event=on_event, partition_id="0", starting_position="@latest"))
    for _ in range(100):
        if hub.receiver_count(HUB):
            break
        await asyncio.sleep(0.1)
    await send(cs, ["new"])
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.1)
    await client.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert got == ["new"]


async def test_annotations_properties_and_last_enqueued(hub):
    cs = hub.connection_string(HUB)
    async with EventHubProducerClient.from_connection_string(cs) as producer:
        event = EventData("with props")
        event.properties = {"team": "finops"}
        await producer.send_batch([event], partition_key="tenant-a")
        await producer.send_batch([EventData("second")], partition_key="tenant-a")
        target = next(pid for pid in hub.partition_ids(HUB) if hub.events(HUB, pid))
        props = await producer.get_partition_properties(target)
    stored = hub.events(HUB, target)
    assert props["last_enqueued_sequence_number"] == 1
    assert props["last_enqueued_offset"] == stored[-1].offset_str
    assert props["is_empty"] is False
    last: list = []
    got = await collect(
        cs, target, 2, last_enqueued=last, starting_position="-1", track_last_enqueued_event_properties=True
    )
    assert got[0].properties == {b"team": b"finops"}
    assert got[0].partition_key == b"tenant-a"
    assert got[0].enqueued_time == stored[0].enqueued_time
    assert got[0].system_properties[b"x-opt-offset"] == stored[0].offset_str.encode()
    # the last-enqueued properties ride on each delivery
    assert last[0]["sequence_number"] == 1
    assert last[0]["offset"] == stored[-1].offset_str
    assert stored[0].partition_key == "tenant-a" and stored[0].body == b"with props"


async def test_one_megabyte_event_round_trips(hub):
    cs = hub.connection_string(HUB)
    body = bytes(range(256)) * 3900  # 998,400 bytes
    async with EventHubProducerClient.from_connection_string(cs) as producer:
        await producer.send_event(EventData(body), partition_id="1")
    assert hub.events(HUB, "1")[0].body == body
    got = await collect(cs, "1", 1, starting_position="-1")
    assert b"".join(got[0].body) == body


async def test_management_reports_hubs_and_unknown_hub_is_a_clear_error(hub):
    async with EventHubProducerClient.from_connection_string(hub.connection_string("other")) as producer:
        props = await producer.get_eventhub_properties()
    assert props["eventhub_name"] == "other" and props["partition_ids"] == ["0"]
    bogus = hub.namespace_connection_string()
    producer = EventHubProducerClient.from_connection_string(bogus, eventhub_name="missing", retry_total=0)
    with pytest.raises(EventHubError, match="missing"):
        async with producer:
            await producer.send_batch([EventData("x")])


async def test_higher_epoch_steals_and_lower_epoch_is_refused(hub):
    cs = hub.connection_string(HUB)
    errors: dict[str, list] = {"first": [], "low": []}

    async def noop(context, event) -> None:
        pass

    def on_error(name):
        async def record(context, error) -> None:
            errors[name].append(error)

        return record

    first = EventHubConsumerClient.from_connection_string(cs, consumer_group="$Default")
    first_task = asyncio.create_task(
        first.receive(on_event=noop, partition_id="0", owner_level=1, on_error=on_error("first"))
    )
    for _ in range(100):
        if hub.receiver_count(HUB) == 1:
            break
        await asyncio.sleep(0.1)
    second = EventHubConsumerClient.from_connection_string(cs, consumer_group="$Default")
    second_task = asyncio.create_task(second.receive(on_event=noop, partition_id="0", owner_level=2))
    for _ in range(100):
        if errors["first"]:
            break
        await asyncio.sleep(0.1)
    assert errors["first"], "the epoch-1 receiver was not told its link was stolen"
    assert "stolen" in str(errors["first"][0]).lower() or "owner level" in str(errors["first"][0]).lower()
    low = EventHubConsumerClient.from_connection_string(cs, consumer_group="$Default")
    low_task = asyncio.create_task(
        low.receive(on_event=noop, partition_id="0", owner_level=0, on_error=on_error("low"))
    )
    for _ in range(100):
        if errors["low"]:
            break
        await asyncio.sleep(0.1)
    assert errors["low"], "a lower epoch was admitted"
    for client, task in ((first, first_task), (second, second_task), (low, low_task)):
        await client.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_receiver_survives_dropped_connections_and_forced_detach_without_loss(hub):
    cs = hub.connection_string(HUB)
    got: list[str] = []

    async def on_event(context, event) -> None:
        got.append(event.body_as_str())

    client = EventHubConsumerClient.from_connection_string(cs, consumer_group="$Default")
    task = asyncio.create_task(client.receive(on_event=on_event, partition_id="0", starting_position="-1"))
    await send(cs, ["a", "b"])
    for _ in range(100):
        if len(got) == 2:
            break
        await asyncio.sleep(0.1)
    assert hub.faults.drop_connections() >= 1
    await send(cs, ["c"])
    assert hub.faults.detach_receivers(HUB, "0") in (0, 1)
    await send(cs, ["d"])
    for _ in range(300):
        if len(got) >= 4:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    await client.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert got == ["a", "b", "c", "d"]


async def test_paused_partition_rejects_sends_refuses_receivers_then_recovers(hub):
    cs = hub.connection_string(HUB)
    hub.faults.pause_partition(HUB, "0", seconds=30)
    producer = EventHubProducerClient.from_connection_string(cs, retry_total=0)
    async with producer:
        with pytest.raises(EventHubError, match=r"unavailable|server-busy"):
            await producer.send_batch([EventData("x")], partition_id="0")
        await producer.send_batch([EventData("round robin")])  # goes to the other partition
    assert hub.events(HUB, "0") == [] and len(hub.events(HUB, "1")) == 1
    errors: list = []

    async def on_error(context, error) -> None:
        errors.append(error)

    async def noop(context, event) -> None:
        pass

    client = EventHubConsumerClient.from_connection_string(cs, consumer_group="$Default", retry_total=0)
    task = asyncio.create_task(client.receive(on_event=noop, partition_id="0", on_error=on_error))
    for _ in range(100):
        if errors:
            break
        await asyncio.sleep(0.1)
    await client.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert errors and hub.receiver_count(HUB) == 0
    hub.faults.resume_partition(HUB, "0")
    await send(cs, ["after"])
    assert [e.body for e in hub.events(HUB, "0")] == [b"after"]


async def test_garbage_and_abrupt_clients_do_not_hurt_the_server(hub):
    loop = asyncio.get_running_loop()
    for payload in (
        b"GET / HTTP/1.1\r\n\r\n",
        b"AMQP\x00\x01\x00\x00" + b"\x00\x00\x00\x20\x02\x00\x00\x00" + b"\xff" * 24,
        b"AMQP\x00\x01\x00\x00\x00\x00",
    ):
        with socket.create_connection(("127.0.0.1", hub.port)) as sock:
            sock.setblocking(False)
            await loop.sock_sendall(sock, payload)
            await asyncio.sleep(0.1)
    cs = hub.connection_string(HUB)
    await send(cs, ["still fine"])
    got = await collect(cs, "0", 1, starting_position="-1")
    assert [e.body_as_str() for e in got] == ["still fine"]
