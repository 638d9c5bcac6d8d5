"""`chargeback consume` as a real process against the local hub (and Azurite): its environment, starting it,
running it to idle, and the encoded records to send it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from schemas.codec import encode
from tests.support.streams import T0, params, rid, usage_record

REPO = Path(__file__).resolve().parents[2]


def consumer_env(connection_string: str, lake: str, checkpoints: str, **extra: str) -> dict[str, str]:
    """The consumer's environment: fast load balancing and idle flushes, small files, INFO logs, no health port."""
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
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "chargeback", "consume", *args], env=env, cwd=REPO, stdout=out, stderr=out
        )
    finally:
        if out is not subprocess.DEVNULL:
            out.close()  # the child holds its own descriptor


def run_consumer(env: dict[str, str], log: Path | None, *args: str, timeout: float = 90) -> int:
    """Run `chargeback consume *args` to its end; its exit code (killed if it outlives `timeout`)."""
    proc = start_consumer(env, *args, log=log)
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def usage_messages(start: int, count: int, *, bodies: bool = True) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(partition key, envelope) for usage records `start..start+count` (every 7th with a multi-chunk request
    body when `bodies`), and their record ids."""
    messages, ids = [], []
    for i in range(start, start + count):
        record_id = rid(i)
        ids.append(record_id)
        payload = json.dumps(usage_record(record_id, i)).encode()
        messages += [(record_id, b) for b in encode(record_id, "usage", payload, emitted_at=T0)]
        if bodies and i % 7 == 0:
            body = (f"body {i} " * 300).encode()
            messages += [
                (record_id, b)
                for b in encode(record_id, "request_body", body, emitted_at=T0, params=params(chunk_bytes=900))
            ]
    return messages, ids
