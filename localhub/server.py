"""`LocalHub`: the server on an asyncio loop (in-process API for async tests and the `devhub` command)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType

from common.logs import get_logger
from localhub.broker import Broker
from localhub.config import HubSpec, connection_string, hub_specs
from localhub.connection import Connection
from localhub.errors import ListenError, NotStartedError
from localhub.faults import Faults
from localhub.storage import Store, StoredEvent

log = get_logger(__name__)


class LocalHub:
    """A local Event Hubs namespace.

    `LocalHub(hubs={"usage": 4}, host="127.0.0.1", port=0, data_dir=None)`; `await start()` / `await stop()` or
    `async with`. Port 0 picks a free port (`hub.port` after start). With `data_dir`, events are kept in
    append-only logs there and survive a restart (restart on the same port so checkpoints still match).
    """

    def __init__(
        self,
        hubs: dict[str, int] | list[HubSpec] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
    ) -> None:
        self.specs = hub_specs(hubs if hubs is not None else {"usage": 4})
        self.host = host
        self._requested_port = port
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._server: asyncio.Server | None = None
        self._store: Store | None = None
        self._broker: Broker | None = None
        self.port = 0

    async def start(self) -> LocalHub:
        if self._server is not None:
            return self
        self._store = Store(self.specs, self.data_dir)
        self._broker = Broker(self._store)
        broker = self._broker
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: Connection(broker), self.host, self._requested_port, reuse_address=True
            )
        except OSError as exc:
            self._store.close()
            self._store = self._broker = None
            raise ListenError(f"cannot listen on {self.host}:{self._requested_port}: {exc.strerror or exc}") from exc
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "localhub_listening",
            host=self.host,
            port=self.port,
            hubs={s.name: s.partitions for s in self.specs},
            data_dir=str(self.data_dir) if self.data_dir else None,
        )
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        assert self._broker is not None and self._store is not None
        for connection in list(self._broker.connections):
            connection.abort()
        await self._server.wait_closed()
        await asyncio.sleep(0)  # let connection_lost callbacks run
        self._store.close()
        self._server = None
        self._broker = None
        self._store = None
        log.info("localhub_stopped", port=self.port)

    async def __aenter__(self) -> LocalHub:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    # -- accessors -----------------------------------------------------------------------------------------------

    def _require(self) -> Broker:
        if self._broker is None:
            raise NotStartedError("the local Event Hubs server is not running: call start() first")
        return self._broker

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def hub_names(self) -> list[str]:
        return [s.name for s in self.specs]

    def connection_string(self, hub_name: str) -> str:
        """Connection string with `EntityPath=<hub_name>` (for producer/consumer clients)."""
        self._require().store.hub(hub_name)
        return connection_string(self.host, self.port, hub_name)

    def namespace_connection_string(self) -> str:
        """Connection string without `EntityPath` (pass `eventhub_name=` to the client)."""
        self._require()
        return connection_string(self.host, self.port)

    def events(self, hub_name: str, partition_id: str | int) -> list[StoredEvent]:
        """The events stored in one partition, oldest first (a snapshot)."""
        return list(self._require().store.partition(hub_name, str(partition_id)).events)

    def all_events(self, hub_name: str) -> dict[str, list[StoredEvent]]:
        """Every partition's events, by partition id."""
        hub = self._require().store.hub(hub_name)
        return {pid: list(p.events) for pid, p in hub.partitions.items()}

    def partition_ids(self, hub_name: str) -> list[str]:
        return self._require().store.hub(hub_name).partition_ids

    def receiver_count(self, hub_name: str | None = None) -> int:
        """How many partition receivers are attached (optionally for one hub)."""
        return sum(
            1 for r in self._require().all_readers() if hub_name is None or r.partition.hub.lower() == hub_name.lower()
        )

    def connection_count(self) -> int:
        return len(self._require().connections)

    @property
    def faults(self) -> Faults:
        return Faults(self._require())
