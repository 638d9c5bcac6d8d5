"""The partition lag metric (last enqueued minus processed sequence number) through the real SDK and the local hub:
the last enqueued sequence number is polled per owned partition, and processing brings the lag to zero."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from azure.eventhub import EventData
from azure.eventhub.aio import EventHubProducerClient

from consumer.checkpoint_file import FileCheckpointStore
from consumer.eventhub_source import EventHubSource
from consumer.metrics import ConsumerMetrics, ConsumerStats
from consumer.settings import ConsumerSettings
from consumer.sources import Position, SourceEvent

EVENTS = 7


class CountingSink:
    """Takes events without processing them, or records them as processed (what the pipeline's metrics do)."""

    def __init__(self, metrics: ConsumerMetrics, *, process: bool) -> None:
        self.metrics, self.process, self.seen = metrics, process, 0

    async def open_partition(self, partition: str, start: Position | None) -> None:
        self.metrics.record_position(partition, start.sequence_number if start else -1)  # as the pipeline does

    async def on_events(self, partition: str, events: Sequence[SourceEvent]) -> None:
        self.seen += len(events)
        if self.process:
            self.metrics.record_events(partition, len(events), events[-1].sequence_number)

    async def on_idle(self, partition: str) -> None:
        return None

    async def close_partition(self, partition: str, *, flush: bool) -> None:
        return None

    async def drain(self) -> None:
        return None


async def send(connection_string: str) -> None:
    async with EventHubProducerClient.from_connection_string(connection_string) as producer:
        batch = await producer.create_batch(partition_id="2")
        for i in range(EVENTS):
            batch.add(EventData(f"event {i}"))
        await producer.send_batch(batch)


async def lag_after_receiving(connection_string: str, tmp_path, *, process: bool) -> dict[str, int]:
    settings = ConsumerSettings(
        eventhub_connection_string=connection_string,
        eventhub_name="usage",
        checkpoint_url=str(tmp_path / "ckpt"),
        lake_url=str(tmp_path / "lake"),
        health_port=0,
        lag_poll_seconds=0.2,
        load_balancing_interval_seconds=1,
    )
    stats = ConsumerStats()
    sink = CountingSink(ConsumerMetrics(stats), process=process)
    source = EventHubSource(settings, FileCheckpointStore(tmp_path / "ckpt" / str(process)), stats)
    stop = asyncio.Event()
    task = asyncio.create_task(source.run(sink, stop))
    try:
        async with asyncio.timeout(30):
            while sink.seen < EVENTS or stats.last_enqueued_sequence.get("2") != EVENTS - 1:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    return stats.lag()


def test_lag_counts_what_is_enqueued_but_not_processed(localhub, tmp_path):
    asyncio.run(send(localhub.connection_string("usage")))
    unprocessed = asyncio.run(lag_after_receiving(localhub.connection_string("usage"), tmp_path, process=False))
    assert unprocessed["2"] == EVENTS  # sequence numbers 0..6 enqueued, none processed
    assert unprocessed.get("0", 0) == 0  # an empty partition has nothing to catch up on
    processed = asyncio.run(lag_after_receiving(localhub.connection_string("usage"), tmp_path, process=True))
    assert processed["2"] == 0
