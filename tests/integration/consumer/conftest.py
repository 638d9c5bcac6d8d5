"""Helpers for running `chargeback consume` as a real process against the local hub and Azurite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def consumer_env(connection_string: str, lake: str, checkpoints: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEBACK_")}
    env.update(
        {
            "CHARGEBACK_EVENTHUB_CONNECTION_STRING": connection_string,
            "CHARGEBACK_EVENTHUB_NAME": "usage",
            "CHARGEBACK_CHECKPOINT_URL": checkpoints,
            "CHARGEBACK_LAKE_URL": lake,
            "CHARGEBACK_HEALTH_PORT": "0",
            "CHARGEBACK_IDLE_FLUSH_SECONDS": "0.5",
            "CHARGEBACK_LOAD_BALANCING_INTERVAL_SECONDS": "1",
            "CHARGEBACK_OWNERSHIP_EXPIRATION_SECONDS": "4",
            "CHARGEBACK_FLUSH_MAX_ROWS": "40",
            "CHARGEBACK_LOG_LEVEL": "INFO",
        }
    )
    env.update(extra)
    return env


def start_consumer(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "chargeback", "consume", *args], env=env, cwd=REPO, stdout=out, stderr=out
    )
