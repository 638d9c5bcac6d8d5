"""Fault injection for reliability tests. Call these on the server's loop (in async tests, directly; the
threaded wrapper forwards them)."""

from __future__ import annotations

from common.logs import get_logger
from localhub.broker import Broker
from localhub.links import amqp_error

log = get_logger(__name__)


class Faults:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    def drop_connections(self) -> int:
        """Close every client socket abruptly (no AMQP close frame), as a network failure would. Returns how
        many were dropped. The SDK reconnects and resumes from where its consumer was."""
        connections = list(self._broker.connections)
        for connection in connections:
            connection.abort()
        log.info("fault_connections_dropped", count=len(connections))
        return len(connections)

    def detach_receivers(
        self,
        hub_name: str | None = None,
        partition_id: str | None = None,
        condition: str = "amqp:link:detach-forced",
        description: str = "detached by localhub fault injection",
    ) -> int:
        """Detach matching partition receivers with an AMQP error (receivers only: `$cbs`, `$management` and
        senders are untouched). Returns how many were detached."""
        matched = [
            reader
            for reader in self._broker.all_readers()
            if (hub_name is None or reader.partition.hub.lower() == hub_name.lower())
            and (partition_id is None or reader.partition.partition_id == str(partition_id))
        ]
        for reader in matched:
            reader.detach(amqp_error(condition, description))
        log.info("fault_receivers_detached", count=len(matched), condition=condition)
        return len(matched)

    def pause_partition(self, hub_name: str, partition_id: str, seconds: float) -> None:
        """Make a partition unavailable for `seconds`: its receivers are detached and new ones refused with
        `com.microsoft:server-busy`, and messages routed to it are rejected with the same condition. Round-robin
        sends (no key, no partition) go to another partition."""
        partition = self._broker.store.partition(hub_name, str(partition_id))
        self._broker.pause(partition, seconds)
        log.info("fault_partition_paused", hub=partition.hub, partition=partition.partition_id, seconds=seconds)

    def resume_partition(self, hub_name: str, partition_id: str) -> None:
        """End a pause early."""
        self._broker.resume(self._broker.store.partition(hub_name, str(partition_id)))

    def refuse_tokens(self, refuse: bool = True) -> None:
        """Answer every `$cbs` put-token with 401 (a credential Event Hubs does not accept), until turned off."""
        self._broker.refuse_tokens = refuse
        log.info("fault_tokens_refused" if refuse else "fault_tokens_accepted")
