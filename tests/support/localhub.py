"""The local Event Hubs server (`localhub/`) for tests: in-process, on a background thread, or as a subprocess.

Async tests::

    async with LocalHub(hubs={"usage": 4}) as hub:          # port=0: a free port; hub.port after start
        cs = hub.connection_string("usage")                  # with EntityPath; namespace_connection_string() without
        ...                                                  # real SDK clients: from_connection_string(cs)
        hub.events("usage", "0")                             # [StoredEvent(sequence_number, offset, enqueued_ms,
                                                             #   partition_key, message); .body, .enqueued_time]
        hub.faults.drop_connections()                        # sockets closed abruptly, no AMQP close
        hub.faults.detach_receivers("usage", "0", condition="amqp:link:detach-forced")
        hub.faults.pause_partition("usage", "0", seconds=5)  # see below

Sync tests and fixtures (the server runs on its own loop in a daemon thread; every call is thread-safe)::

    with running_localhub(hubs={"usage": 4}, port=0, data_dir=None) as hub:
        hub.connection_string("usage"); hub.events("usage", 0); hub.faults.pause_partition("usage", "1", 3)
        hub.stop(); hub.start()     # restart on the SAME port (checkpoint blob paths contain host:port)

The `localhub` pytest fixture (tests/conftest.py) is a `running_localhub(hubs={"usage": 4})`.

In a separate process (e.g. the consumer in one process and the hub in another)::

    with LocalHubProcess(hubs={"usage": 4}, data_dir=tmp_path) as proc:   # `python -m localhub` on a free port
        proc.connection_string("usage"); proc.restart(); proc.kill()      # kill: SIGKILL, no clean shutdown

Behaviour worth knowing:
- Offsets are byte positions in the partition log (first event: offset "8"); they never equal sequence numbers
  after the first event. Enqueued times never go backwards within a partition.
- A partition key always maps to the same partition (a stable hash, not the service's: never assume which).
- `pause_partition`: its receivers are detached and new receivers refused with `com.microsoft:server-busy`
  (retryable: the SDK retries with back-off, then reports the error to `on_error`); messages routed to it are
  rejected with the same condition (the SDK's send raises); round-robin sends go to other partitions. It ends by
  itself after `seconds` (or `resume_partition`).
- `data_dir`: events survive a restart (append-only logs, flushed to the OS on every send, not fsynced).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from localhub import LocalHub, StoredEvent, SyncLocalHub, running_localhub
from localhub.config import connection_string
from tests.support.ports import ProcessExitedError, free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["LocalHub", "LocalHubProcess", "StoredEvent", "SyncLocalHub", "running_localhub"]


@dataclass
class LocalHubProcess:
    """`python -m localhub` in its own process group on a fixed free port; `restart()` keeps port and data."""

    hubs: dict[str, int] = field(default_factory=lambda: {"usage": 4})
    port: int = field(default_factory=free_port)
    data_dir: Path | None = None
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = None
    _own_dir: Path | None = None
    _started: bool = False

    def start(self, _tries: int = 3) -> LocalHubProcess:
        if self.data_dir is None:
            self._own_dir = Path(tempfile.mkdtemp(prefix="localhub-"))
            self.data_dir = self._own_dir
        args = [
            sys.executable,
            "-m",
            "localhub",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        for name, partitions in self.hubs.items():
            args += ["--hub", f"{name}:{partitions}"]
        self.process = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        try:
            wait_for_port(self.port, host=self.host, process=self.process)
        except ProcessExitedError:
            self.process = None
            if self._started or _tries <= 1:  # a restart must keep its port (checkpoint paths hold host:port)
                raise
            self.port = free_port()  # the port was taken between choosing it and binding it: take another
            return self.start(_tries - 1)
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def _signal(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Clean shutdown (SIGTERM)."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Crash (SIGKILL): whatever was flushed to the data directory survives."""
        self._signal(signal.SIGKILL)

    def restart(self) -> LocalHubProcess:
        self.stop()
        return self.start()

    def connection_string(self, hub_name: str) -> str:
        return connection_string(self.host, self.port, hub_name)

    def namespace_connection_string(self) -> str:
        return connection_string(self.host, self.port)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def close(self) -> None:
        self.stop()
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def __enter__(self) -> LocalHubProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
