"""Sending envelopes to the local hub with the real SDK producer (partition key = record id, per the contract)."""

from __future__ import annotations

from azure.eventhub import EventData
from azure.eventhub.aio import EventHubProducerClient


async def send(connection_string: str, messages: list[tuple[str, bytes]]) -> None:
    """`messages`: (partition key, body) in order; one batch per key keeps a record's chunks together."""
    async with EventHubProducerClient.from_connection_string(connection_string) as producer:
        for key, body in messages:
            batch = await producer.create_batch(partition_key=key)
            batch.add(EventData(body))
            await producer.send_batch(batch)
