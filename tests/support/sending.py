"""Sending envelopes to the local hub with the real SDK producer.

The contract routes by partition key (= record id). To keep tests fast, records are sent in batches per
partition: each record's chunks stay together and in order on one partition chosen from its id, which is what a
partition key achieves."""

from __future__ import annotations

import zlib

from azure.eventhub import EventData
from azure.eventhub.aio import EventHubProducerClient


async def send(connection_string: str, messages: list[tuple[str, bytes]], partitions: int = 4) -> None:
    """`messages`: (record id, envelope body) in stream order."""
    by_partition: dict[str, list[bytes]] = {}
    for key, body in messages:
        by_partition.setdefault(str(zlib.crc32(key.encode()) % partitions), []).append(body)
    async with EventHubProducerClient.from_connection_string(connection_string) as producer:
        for partition, bodies in by_partition.items():
            batch = await producer.create_batch(partition_id=partition)
            for body in bodies:
                try:
                    batch.add(EventData(body))
                except ValueError:
                    await producer.send_batch(batch)
                    batch = await producer.create_batch(partition_id=partition)
                    batch.add(EventData(body))
            await producer.send_batch(batch)
