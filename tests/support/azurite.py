"""Azurite (npm `azurite`, installed by `make test`) started on loopback for a test, and stopped after it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import ProcessExitedError, free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BLOB = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Azurite:
    """A running Azurite blob service. `stop()`/`start()` simulate an outage on the same port and data."""

    port: int = field(default_factory=free_port)
    location: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="azurite-")))
    process: subprocess.Popen | None = None
    _started: bool = field(default=False, repr=False)

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={self.blob_endpoint};"
        )

    def start(self) -> Azurite:
        """Start (or restart, on the same port and data). A first start that lost its port to someone else tries
        another free port; a restart must keep its port, so it fails instead."""
        if not AZURITE_BLOB.exists():
            raise RuntimeError(f"{AZURITE_BLOB} is missing: run `make node-tools` (part of `make test`)")
        for attempt in range(3):
            self.process = self._spawn()
            try:
                wait_for_port(self.port, process=self.process)
            except ProcessExitedError:
                self.process = None
                if self._started or attempt == 2:
                    raise
                self.port = free_port()
                continue
            except BaseException:
                self.stop()
                raise
            break
        self._started = True
        return self

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(
            [
                "node",
                str(AZURITE_BLOB.resolve()),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--location",
                str(self.location),
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
                "--silent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.location, ignore_errors=True)
