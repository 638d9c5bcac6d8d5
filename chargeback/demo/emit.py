"""Run synthetic calls through the APIM policy (under Mono) and send what it emits to Event Hubs, as APIM would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from azure.eventhub import EventData
from azure.eventhub.aio import EventHubProducerClient

from chargeback.demo.traffic import SyntheticCall
from producer_policy.harness.policy import PolicyDocuments, PolicyHarness

POLICY_DIR = Path(__file__).resolve().parents[2] / "producer_policy"


@dataclass(frozen=True)
class Message:
    partition_key: str
    body: bytes


@dataclass
class EmitResult:
    messages: list[Message] = field(default_factory=list)
    calls: int = 0
    expression_errors: int = 0


def run_policy(
    calls: Iterable[SyntheticCall],
    *,
    policy_dir: Path = POLICY_DIR,
    named_values: dict[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> EmitResult:
    """Every call through the deployed policy; the messages it hands `log-to-eventhub`, in emission order."""
    documents = PolicyDocuments.from_directory(policy_dir)
    result = EmitResult()
    with PolicyHarness() as harness:
        plain = harness.prepare(documents, named_values)
        capturing = harness.prepare(documents, {**(named_values or {}), "chargeback-capture": "both"})
        for call in calls:
            run = harness.run(capturing if call.capture else plain, call.exchange)
            result.calls += 1
            result.expression_errors += len(run.errors)
            result.messages.extend(Message(m.partition_key or "", m.body.encode("utf-8")) for m in run.messages)
            if progress:
                progress(1)
    return result


async def send(
    connection_string: str,
    messages: list[Message],
    *,
    concurrency: int = 16,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Send with each message's partition key (APIM's `partition-key`), several keys in flight at once."""
    by_key: dict[str, list[bytes]] = {}
    for message in messages:
        by_key.setdefault(message.partition_key, []).append(message.body)
    gate = asyncio.Semaphore(concurrency)
    sent = 0
    async with EventHubProducerClient.from_connection_string(connection_string) as producer:

        async def send_key(key: str, bodies: list[bytes]) -> None:
            nonlocal sent
            async with gate:
                batch = await producer.create_batch(partition_key=key)
                for body in bodies:
                    try:
                        batch.add(EventData(body))
                    except ValueError:  # batch full: a large captured body
                        await producer.send_batch(batch)
                        batch = await producer.create_batch(partition_key=key)
                        batch.add(EventData(body))
                await producer.send_batch(batch)
                sent += len(bodies)
                if progress:
                    progress(len(bodies))

        await asyncio.gather(*(send_key(k, v) for k, v in by_key.items()))
    return sent
