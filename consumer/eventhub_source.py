"""Event Hubs as an `EventSource`: the SDK's async `EventHubConsumerClient` with a checkpoint store.

The SDK balances partitions between processes through the checkpoint store; each owned partition is driven into
the sink with `receive_batch`. A partition closed because its ownership moved is dropped without flushing (its new
owner re-reads from the checkpoint and the flush state); a partition closed on shutdown is flushed and
checkpointed before its ownership is released.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from azure.eventhub import EventData
from azure.eventhub.aio import CheckpointStore, EventHubConsumerClient, PartitionContext
from azure.eventhub.amqp import AmqpMessageBodyType
from azure.eventhub.exceptions import EventHubError

from common.logs import get_logger
from common.redact import describe
from consumer.errors import EventHubUnavailableError
from consumer.metrics import ConsumerStats
from consumer.settings import ConsumerSettings
from consumer.sources import PartitionSink, Position, SourceEvent

log = get_logger("consumer.eventhub")

STARTUP_TIMEOUT_SECONDS = 120.0
"""Bound on the start-up check; the SDK's own retries (about 13 s with its defaults) normally end it first."""


def namespace_of(settings: ConsumerSettings) -> str:
    """The namespace as it appears in checkpoint paths (host, plus port for an emulator)."""
    return settings.namespace


def _reason(exc: BaseException) -> str:
    """One line from the SDK's multi-line error: its first line, plus the service's status and description."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    head = lines[0]
    for prefix in ("Status code:", "Description:"):
        extra = next((line for line in lines[1:] if line.startswith(prefix)), None)
        if extra and prefix not in head:
            head = f"{head} {extra}"
    return head


def _body(event: EventData) -> bytes:
    message = event.raw_amqp_message
    if message.body_type is AmqpMessageBodyType.DATA:
        return b"".join(message.body)
    return event.body_as_str().encode("utf-8")


def _partition_key(event: EventData) -> str | None:
    key = event.partition_key
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    return key


def to_source_event(event: EventData) -> SourceEvent:
    return SourceEvent(
        body=_body(event),
        sequence_number=event.sequence_number,
        offset=str(event.offset),
        enqueued_time=event.enqueued_time,
        partition_key=_partition_key(event),
    )


class EventHubSource:
    def __init__(self, settings: ConsumerSettings, store: CheckpointStore, stats: ConsumerStats) -> None:
        self.settings = settings
        self.store = store
        self.stats = stats
        self.name = settings.hub_name or ""
        self._contexts: dict[str, PartitionContext] = {}
        self._sink: PartitionSink | None = None
        self.owned: set[str] = set()
        self._owned_changed = asyncio.Event()
        self.started = asyncio.Event()
        """Set when the first partition is opened."""
        self.reachable = asyncio.Event()
        """Set once the hub answered the start-up check: until then nothing may be called "idle"."""
        self.partition_ids: frozenset[str] = frozenset()
        """Every partition of the hub (from the start-up check)."""
        self.running = False
        self._credential: Any = None

    def _client(self) -> EventHubConsumerClient:
        s = self.settings
        common: dict[str, Any] = {
            "consumer_group": s.consumer_group,
            "eventhub_name": self.name,
            "checkpoint_store": self.store,
            "load_balancing_interval": s.load_balancing_interval_seconds,
            "partition_ownership_expiration_interval": s.ownership_expiration_seconds,
        }
        if s.eventhub_connection_string:
            return EventHubConsumerClient.from_connection_string(
                s.eventhub_connection_string.get_secret_value(), **common
            )
        from azure.identity.aio import DefaultAzureCredential

        self._credential = DefaultAzureCredential()
        return EventHubConsumerClient(
            fully_qualified_namespace=s.eventhub_namespace or "", credential=self._credential, **common
        )

    async def checkpoint(self, partition: str, position: Position) -> None:
        context = self._contexts[partition]
        await self.store.update_checkpoint(
            {
                "fully_qualified_namespace": context.fully_qualified_namespace,
                "eventhub_name": context.eventhub_name,
                "consumer_group": context.consumer_group,
                "partition_id": partition,
                "offset": position.offset,
                "sequence_number": position.sequence_number,
            }
        )

    async def _start_position(self, context: PartitionContext) -> Position | None:
        checkpoints = await self.store.list_checkpoints(
            context.fully_qualified_namespace, context.eventhub_name, context.consumer_group
        )
        for item in checkpoints:
            if item["partition_id"] == context.partition_id and item.get("offset"):
                return Position(int(item["sequence_number"]), str(item["offset"]))
        return None

    async def _on_init(self, context: PartitionContext) -> None:
        assert self._sink is not None
        self._contexts[context.partition_id] = context
        start = await self._start_position(context)
        await self._sink.open_partition(context.partition_id, start)
        self.owned.add(context.partition_id)
        self._owned_changed.set()  # poll its last enqueued event now: until then its lag is unknown
        self.started.set()

    async def _on_batch(self, context: PartitionContext, events: Sequence[EventData]) -> None:
        assert self._sink is not None
        partition = context.partition_id
        if events:
            await self._sink.on_events(partition, [to_source_event(e) for e in events])
        else:
            await self._sink.on_idle(partition)

    async def _on_close(self, context: PartitionContext, reason: Any) -> None:
        assert self._sink is not None
        flush = getattr(reason, "name", str(reason)) == "SHUTDOWN"
        log.info("partition_closing", partition=context.partition_id, reason=str(reason), flush=flush)
        self.owned.discard(context.partition_id)
        await self._sink.close_partition(context.partition_id, flush=flush)

    async def _on_error(self, context: PartitionContext | None, error: Exception) -> None:
        log.warning(
            "eventhub_error",
            partition=context.partition_id if context else None,
            error=describe(error),
        )

    async def _poll_lag(self, client: EventHubConsumerClient) -> None:
        """Each owned partition's last enqueued sequence number, every `lag_poll_seconds` (the lag metric).

        Polled rather than asked of every message (`track_last_enqueued_event_properties`): that makes the hub
        attach, and the SDK decode, a delivery-annotations map on each event, about 8% of the consumer's
        throughput (bench/README.md, "consumer")."""
        while True:
            self._owned_changed.clear()
            for partition in sorted(self.owned):
                try:
                    props = await client.get_partition_properties(partition)
                    self.stats.last_enqueued_sequence[partition] = int(props["last_enqueued_sequence_number"])
                except Exception as exc:  # a metric: never let it stop the consumer
                    log.warning("lag_poll_failed", partition=partition, error=describe(exc))
            # Every `lag_poll_seconds`, and at once when a partition opens (`--until-idle` waits for its figure).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._owned_changed.wait(), timeout=self.settings.lag_poll_seconds)

    async def check_hub(self, client: EventHubConsumerClient) -> list[str]:
        """Read the hub's properties once before receiving: a hub that cannot be reached, does not exist or refuses
        the credential fails start-up with one line, instead of an event processor retrying forever (and an
        `--until-idle` run reporting "idle")."""
        from azure.core.exceptions import ClientAuthenticationError

        where = f"event hub {self.name!r} on {namespace_of(self.settings)}"
        try:
            props = await asyncio.wait_for(client.get_eventhub_properties(), STARTUP_TIMEOUT_SECONDS)
        except TimeoutError:
            raise EventHubUnavailableError(
                f"Event Hubs unavailable: {where} did not answer within {STARTUP_TIMEOUT_SECONDS:.0f} s"
            ) from None
        except (EventHubError, ClientAuthenticationError, OSError) as exc:
            raise EventHubUnavailableError(f"Event Hubs unavailable: cannot read {where}: {_reason(exc)}") from None
        partitions = [str(p) for p in props.get("partition_ids", [])]
        if not partitions:
            raise EventHubUnavailableError(f"Event Hubs unavailable: {where} reports no partitions")
        log.info("eventhub_reachable", hub=self.name, partitions=len(partitions))
        self.partition_ids = frozenset(partitions)
        self.reachable.set()
        return partitions

    async def run(self, sink: PartitionSink, stop: asyncio.Event) -> None:
        self._sink = sink
        client = self._client()
        try:
            await self.check_hub(client)
        except BaseException:
            await client.close()
            if self._credential is not None:
                await self._credential.close()
            raise
        self.running = True
        receiving = asyncio.create_task(
            client.receive_batch(
                self._on_batch,
                max_batch_size=self.settings.receive_batch_size,
                max_wait_time=self.settings.idle_flush_seconds,
                prefetch=self.settings.prefetch,
                starting_position="-1" if self.settings.start_position == "earliest" else "@latest",
                on_partition_initialize=self._on_init,
                on_partition_close=self._on_close,
                on_error=self._on_error,
            )
        )
        stopping = asyncio.create_task(stop.wait())
        polling = asyncio.create_task(self._poll_lag(client))
        try:
            await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            # Flush before closing the client: the SDK runs on_partition_close in a task it may cancel (a second
            # stop() from receive_batch's own cleanup), and asyncio.run would cancel it too once we return.
            await sink.drain()
        finally:
            stopping.cancel()
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
            await client.close()
            if not receiving.done():
                receiving.cancel()
            await asyncio.gather(receiving, return_exceptions=True)
            if self._credential is not None:
                await self._credential.close()
            self.running = False
        failure = receiving.exception() if receiving.done() and not receiving.cancelled() else None
        if failure is not None and not stop.is_set():
            raise failure
