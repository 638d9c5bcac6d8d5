"""APIM's LLM logs for tests of the consumer's second source: Azure Monitor resource-log documents as a diagnostic
setting sends them to Event Hubs (`{"records": [...]}`, one document per event), and sending them to a hub with the
real SDK (no partition key: Azure Monitor sets none)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.eventhub import EventData
from azure.eventhub.aio import EventHubProducerClient

LOG_HUB = "llmlogs"
"""The LLM-log hub's name in tests (the Bicep calls it the same)."""
T0 = datetime(2026, 11, 27, 9, 58, tzinfo=UTC)
RESOURCE_ID = "/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM"


def correlation_id(index: int) -> str:
    """The gateway request id of call `index`, as the policy writes it (`context.RequestId`, lower case)."""
    return str(uuid.UUID(int=(7 << 100) + index))


def log_record(index: int, **properties: Any) -> dict[str, Any]:
    """One `GatewayLlmLogs` record for call `index` (PascalCase, as the table documents it)."""
    when = (T0 + timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"  # seven digits, as Azure writes
    props: dict[str, Any] = {
        "CorrelationId": correlation_id(index).upper(),
        "RequestId": f"chatcmpl-{index:06d}",
        "DeploymentName": "gpt-4o",
        "ModelName": "gpt-4o-2024-11-20",
        "OperationName": "ChatCompletions_Create",
        "ApiVersion": "2024-10-21",
        "PromptTokens": 100 + index,
        "CompletionTokens": 10 + index,
        "TotalTokens": 110 + 2 * index,
        "IsStreamCompletion": index % 2 == 0,
        "SequenceNumber": 0,
        "Region": "Sweden Central",
        "TimeGenerated": when,
    }
    props.update(properties)
    return {
        "time": when,
        "resourceId": RESOURCE_ID,
        "category": "GatewayLlmLogs",
        "operationName": "Microsoft.ApiManagement/GatewayLlmLogs",
        "properties": props,
    }


def probe(index: int) -> dict[str, Any]:
    """A connectivity probe: a record with an empty model `RequestId` (never stored)."""
    return log_record(index, RequestId="", PromptTokens=None, CompletionTokens=None, TotalTokens=None)


def document(*records: dict[str, Any]) -> bytes:
    return json.dumps({"records": list(records)}).encode()


def documents(indices: range, per_document: int = 3) -> list[bytes]:
    """Calls `indices` as documents of `per_document` records each."""
    ids = list(indices)
    return [document(*(log_record(i) for i in ids[k : k + per_document])) for k in range(0, len(ids), per_document)]


async def send_documents(connection_string: str, bodies: list[bytes], *, partition: str | None = None) -> None:
    """Each body as one event, round-robin over the partitions (or all to `partition`), in order."""
    async with EventHubProducerClient.from_connection_string(connection_string) as producer:
        batch = await producer.create_batch(partition_id=partition)
        for body in bodies:
            try:
                batch.add(EventData(body))
            except ValueError:
                await producer.send_batch(batch)
                batch = await producer.create_batch(partition_id=partition)
                batch.add(EventData(body))
        if len(batch):
            await producer.send_batch(batch)
