"""What the server knows across connections: where events go, who reads each partition, which partitions are
paused. Everything runs on the server's event loop, so nothing here needs a lock."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

from azure.eventhub._pyamqp.error import AMQPError
from azure.eventhub._pyamqp.message import Message

from common.logs import get_logger
from localhub import cbs, management, messages
from localhub.addresses import CBS_NODE
from localhub.errors import MalformedMessageError
from localhub.links import MAX_MESSAGE_BYTES, PartitionReader, amqp_error
from localhub.storage import Partition, Store

if TYPE_CHECKING:
    from localhub.connection import Connection

log = get_logger(__name__)

UNAVAILABLE = "com.microsoft:server-busy"
"""The condition of a paused partition (retryable for the SDK, as on the real service)."""
STOLEN = "amqp:link:stolen"


def partition_for_key(key: str, count: int) -> int:
    """Stable across processes and restarts (not Python's salted hash). Not the service's hash: never assume
    which partition a key lands on, only that it is always the same one."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


class Broker:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.connections: set[Connection] = set()
        self.readers: dict[tuple[str, str], list[PartitionReader]] = {}
        self._paused: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._round_robin: dict[str, int] = {}
        self.refuse_tokens = False
        """Fault: every `$cbs` put-token is answered 401, as Event Hubs answers a token it does not accept."""

    @staticmethod
    def _key(partition: Partition) -> tuple[str, str]:
        return partition.hub.lower(), partition.partition_id

    # -- publishing ----------------------------------------------------------------------------------------------

    def publish(self, hub_name: str, partition_id: str | None, message: bytes, *, batch: bool) -> AMQPError | None:
        """Store one client message (a single event or an SDK batch) in one partition; an error rejects it."""
        if len(message) > MAX_MESSAGE_BYTES:
            return amqp_error(
                "amqp:link:message-size-exceeded", f"message of {len(message)} bytes exceeds {MAX_MESSAGE_BYTES}"
            )
        try:
            key = messages.partition_key_of(message)
            events = messages.batch_events(message) if batch else [message]
            hub = self.store.hub(hub_name)
            if partition_id is not None:
                partition = hub.partitions[partition_id]
            elif key is not None:
                partition = list(hub.partitions.values())[partition_for_key(key, len(hub.partitions))]
            else:
                partition = self._next_available(hub_name, list(hub.partitions.values()))
            if self.is_paused(partition):
                return amqp_error(UNAVAILABLE, f"partition {partition.partition_id} of {hub.name} is unavailable")
            stored = partition.append(events, key)
        except MalformedMessageError as exc:
            return amqp_error("amqp:decode-error", str(exc))
        except OSError as exc:
            log.warning("partition_log_write_failed", hub=hub_name, error=str(exc))
            return amqp_error("amqp:internal-error", f"cannot store the events: {exc}")
        log.debug("events_stored", hub=partition.hub, partition=partition.partition_id, count=len(stored))
        for reader in list(self.readers.get(self._key(partition), ())):
            reader.pump()
        return None

    def _next_available(self, hub_name: str, partitions: list[Partition]) -> Partition:
        start = self._round_robin.get(hub_name.lower(), 0)
        for step in range(len(partitions)):
            candidate = partitions[(start + step) % len(partitions)]
            if not self.is_paused(candidate):
                self._round_robin[hub_name.lower()] = (start + step + 1) % len(partitions)
                return candidate
        return partitions[start % len(partitions)]

    # -- readers and epochs --------------------------------------------------------------------------------------

    def admit_reader(self, reader: PartitionReader) -> AMQPError | None:
        """Register a reader, applying owner-level (epoch) rules within its consumer group; None if admitted."""
        if self.is_paused(reader.partition):
            return amqp_error(UNAVAILABLE, f"partition {reader.partition.partition_id} is unavailable")
        group = reader.consumer_group.lower()
        readers = self.readers.setdefault(self._key(reader.partition), [])
        rivals = [r for r in readers if r.consumer_group.lower() == group]
        epochs = [r.epoch for r in rivals if r.epoch is not None]
        if reader.epoch is None:
            if epochs:
                return amqp_error(STOLEN, f"a receiver with owner level {max(epochs)} is active on this partition")
        else:
            if epochs and max(epochs) > reader.epoch:
                return amqp_error(
                    STOLEN, f"owner level {reader.epoch} is lower than the active receiver's {max(epochs)}"
                )
            for rival in rivals:
                rival.detach(amqp_error(STOLEN, f"a receiver with owner level {reader.epoch} took over this partition"))
        readers.append(reader)
        return None

    def remove_reader(self, reader: PartitionReader) -> None:
        readers = self.readers.get(self._key(reader.partition), [])
        if reader in readers:
            readers.remove(reader)

    def all_readers(self) -> list[PartitionReader]:
        return [r for readers in self.readers.values() for r in readers]

    # -- pauses --------------------------------------------------------------------------------------------------

    def is_paused(self, partition: Partition) -> bool:
        return self._key(partition) in self._paused

    def pause(self, partition: Partition, seconds: float) -> None:
        key = self._key(partition)
        previous = self._paused.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._paused[key] = asyncio.get_running_loop().call_later(seconds, self.resume, partition)
        for reader in list(self.readers.get(key, ())):
            reader.detach(amqp_error(UNAVAILABLE, f"partition {partition.partition_id} is unavailable"))

    def resume(self, partition: Partition) -> None:
        handle = self._paused.pop(self._key(partition), None)
        if handle is not None:
            handle.cancel()

    # -- nodes ---------------------------------------------------------------------------------------------------

    def handle_request(self, node: str, request: Message) -> bytes:
        if node == CBS_NODE:
            return cbs.handle(request, refuse=self.refuse_tokens)
        return management.handle(request, self.store)
