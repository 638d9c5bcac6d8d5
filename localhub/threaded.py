"""The server on its own event loop in a background thread, for sync tests and fixtures.

    with running_localhub(hubs={"usage": 4}) as hub:
        hub.connection_string("usage"); hub.events("usage", "0"); hub.faults.drop_connections()

Every accessor and fault call is forwarded to the server's loop and waits for the result, so it is thread-safe.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from localhub.config import HubSpec
from localhub.server import LocalHub
from localhub.storage import StoredEvent

T = TypeVar("T")
_CALL_TIMEOUT = 30.0


class SyncFaults:
    """`Faults`, callable from any thread."""

    def __init__(self, owner: SyncLocalHub) -> None:
        self._owner = owner

    def drop_connections(self) -> int:
        return self._owner.call(lambda hub: hub.faults.drop_connections())

    def detach_receivers(
        self,
        hub_name: str | None = None,
        partition_id: str | None = None,
        condition: str = "amqp:link:detach-forced",
        description: str = "detached by localhub fault injection",
    ) -> int:
        return self._owner.call(lambda hub: hub.faults.detach_receivers(hub_name, partition_id, condition, description))

    def pause_partition(self, hub_name: str, partition_id: str, seconds: float) -> None:
        self._owner.call(lambda hub: hub.faults.pause_partition(hub_name, partition_id, seconds))

    def resume_partition(self, hub_name: str, partition_id: str) -> None:
        self._owner.call(lambda hub: hub.faults.resume_partition(hub_name, partition_id))

    def refuse_tokens(self, refuse: bool = True) -> None:
        self._owner.call(lambda hub: hub.faults.refuse_tokens(refuse))


class SyncLocalHub:
    """A `LocalHub` running on a private loop in a daemon thread; `start()`/`stop()` may be repeated (restart)."""

    def __init__(
        self,
        hubs: dict[str, int] | list[HubSpec] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
    ) -> None:
        self._hub = LocalHub(hubs=hubs, host=host, port=port, data_dir=data_dir)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.faults = SyncFaults(self)

    def start(self) -> SyncLocalHub:
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="localhub", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._run(self._hub.start())
        except BaseException:
            self._shutdown_loop()
            raise
        # A restart keeps the port, so checkpoints (whose blob paths contain host:port) stay valid.
        self._hub._requested_port = self._hub.port
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            self._run(self._hub.stop())
        finally:
            self._shutdown_loop()

    def _shutdown_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=_CALL_TIMEOUT)
        loop.close()

    def _run(self, coroutine: Any) -> Any:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the local Event Hubs server is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_CALL_TIMEOUT)

    def call(self, fn: Callable[[LocalHub], T]) -> T:
        """Run `fn(hub)` on the server's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("the local Event Hubs server is not running")
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn(self._hub))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(_CALL_TIMEOUT)

    def __enter__(self) -> SyncLocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self._hub.host

    @property
    def port(self) -> int:
        return self._hub.port

    @property
    def running(self) -> bool:
        return self._loop is not None

    def connection_string(self, hub_name: str) -> str:
        return self.call(lambda hub: hub.connection_string(hub_name))

    def namespace_connection_string(self) -> str:
        return self.call(lambda hub: hub.namespace_connection_string())

    def events(self, hub_name: str, partition_id: str | int) -> list[StoredEvent]:
        return self.call(lambda hub: hub.events(hub_name, partition_id))

    def all_events(self, hub_name: str) -> dict[str, list[StoredEvent]]:
        return self.call(lambda hub: hub.all_events(hub_name))

    def partition_ids(self, hub_name: str) -> list[str]:
        return self.call(lambda hub: hub.partition_ids(hub_name))

    def receiver_count(self, hub_name: str | None = None) -> int:
        return self.call(lambda hub: hub.receiver_count(hub_name))

    def connection_count(self) -> int:
        return self.call(lambda hub: hub.connection_count())


@contextmanager
def running_localhub(
    hubs: dict[str, int] | list[HubSpec] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: str | Path | None = None,
) -> Iterator[SyncLocalHub]:
    hub = SyncLocalHub(hubs=hubs, host=host, port=port, data_dir=data_dir).start()
    try:
        yield hub
    finally:
        hub.stop()
