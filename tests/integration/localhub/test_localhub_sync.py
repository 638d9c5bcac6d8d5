"""The sync SDK against the threaded server and the `python -m localhub` subprocess (persistence, crash)."""

from __future__ import annotations

import threading

from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient

from tests.support.localhub import LocalHubProcess, running_localhub

HUB = "usage"


def receive_sync(cs: str, partition_id: str, count: int, timeout: float = 20, **kwargs) -> list[str]:
    got: list[str] = []
    done = threading.Event()
    client = EventHubConsumerClient.from_connection_string(cs, consumer_group="$Default")

    def on_event_batch(context, events) -> None:
        got.extend(e.body_as_str() for e in events)
        if len(got) >= count:
            done.set()

    worker = threading.Thread(
        target=client.receive_batch,
        kwargs={"on_event_batch": on_event_batch, "partition_id": partition_id, "max_wait_time": 0.5, **kwargs},
        daemon=True,
    )
    worker.start()
    done.wait(timeout)
    client.close()
    worker.join(30)
    return got


def send_sync(cs: str, bodies: list[str], **batch_kwargs) -> None:
    with EventHubProducerClient.from_connection_string(cs) as producer:
        batch = producer.create_batch(**batch_kwargs)
        for body in bodies:
            batch.add(EventData(body))
        producer.send_batch(batch)


def test_sync_clients_with_the_fixture_and_thread_safe_faults(localhub):
    cs = localhub.connection_string(HUB)
    send_sync(cs, ["one", "two"], partition_key="k")
    partition = next(pid for pid in localhub.partition_ids(HUB) if localhub.events(HUB, pid))
    assert [e.body for e in localhub.events(HUB, partition)] == [b"one", b"two"]
    assert receive_sync(cs, partition, 2, starting_position="-1") == ["one", "two"]
    assert localhub.faults.drop_connections() == 0  # every client above closed its connection
    localhub.faults.pause_partition(HUB, partition, 0.2)
    localhub.faults.resume_partition(HUB, partition)
    send_sync(cs, ["three"], partition_key="k")
    assert [e.body for e in localhub.events(HUB, partition)][-1] == b"three"


def test_threaded_restart_on_the_same_port_keeps_events_with_a_data_dir(tmp_path):
    with running_localhub(hubs={HUB: 2}, data_dir=tmp_path) as hub:
        cs = hub.connection_string(HUB)
        send_sync(cs, ["before"], partition_id="1")
        port = hub.port
        hub.stop()
        hub.start()
        assert hub.port == port
        send_sync(cs, ["after"], partition_id="1")
        events = hub.events(HUB, "1")
        assert [e.body for e in events] == [b"before", b"after"]
        assert [e.sequence_number for e in events] == [0, 1]
        assert receive_sync(cs, "1", 1, starting_position=events[0].offset_str) == ["after"]


def test_subprocess_hub_survives_sigkill_and_keeps_sequence_numbers(tmp_path):
    with LocalHubProcess(hubs={HUB: 1}, data_dir=tmp_path) as proc:
        cs = proc.connection_string(HUB)
        send_sync(cs, ["a", "b"], partition_id="0")
        proc.kill()
        proc.start()
        send_sync(cs, ["c"], partition_id="0")
        assert receive_sync(cs, "0", 3, starting_position="-1") == ["a", "b", "c"]
        assert receive_sync(cs, "0", 1, starting_position=1, starting_position_inclusive=False) == ["c"]
