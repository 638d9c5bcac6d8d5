"""Free loopback ports and readiness waits for the servers tests start.

Under pytest-xdist several workers pick ports at once, and a server started as a child process binds its port a
moment after the test chose it. `free_port()` therefore hands each worker its own slice of ports below the kernel's
ephemeral range (so neither another worker nor an outgoing connection can be given the same number), never hands
out a port twice in one process, and checks that the port can be bound right now. A server that still lost its
port exits; `wait_for_port(..., process=...)` notices that instead of talking to whoever holds the port.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time

# Below Linux's default ephemeral range (32768-60999), above the well-known and registered-by-habit ports.
LOW, HIGH = 12_000, 32_000
_handed_out: set[int] = set()


def _worker_slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under xdist; "" otherwise
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    width = (HIGH - LOW) // max(count, 1)
    start = LOW + index * width
    return range(start, start + width)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback TCP port nobody listens on, unique to this process and to this xdist worker."""
    candidates = _worker_slice()
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        port = rng.choice(candidates)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # the slice is crowded: let the kernel pick
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(
    port: int, *, host: str = "127.0.0.1", timeout: float = 30.0, process: subprocess.Popen | None = None
) -> None:
    """Wait until something accepts connections on host:port; with `process`, fail as soon as it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise ProcessExitedError(f"the server exited ({process.returncode}) before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


class ProcessExitedError(RuntimeError):
    """The server process ended before its port opened (most often: the port was taken in the meantime)."""
