"""Every command that opens a Blob lake fails in one line with exit 5 when no credential works (issue 12, item 3).

Before common.storage probed the credential in Python, each of these ended in pyarrow's C++
`terminate called ... AuthenticationException` (exit 134). Commands run as real processes: an abort in-process
would take the test runner down with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.azurite import KEY, Azurite

REPO = Path(__file__).resolve().parents[3]
WRONG_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleQ=="
COMMANDS = {
    "sql": ["sql", "SELECT 1"],
    "aggregate": ["aggregate", "--date", "2026-11-10"],
    "report": ["report", "--month", "2026-11", "--out", "{tmp}/report.html"],
    "export focus": ["export", "focus", "--month", "2026-11", "--out", "{tmp}/focus.csv"],
    "compact": ["compact", "--date", "2026-11-10"],
    "retention apply": ["retention", "apply"],
    "consume": ["consume", "--until-idle", "1"],
}


@pytest.fixture(scope="module")
def azurite() -> Iterator[Azurite]:
    server = Azurite().start()
    try:
        yield server
    finally:
        server.close()


def _environment(tmp_path: Path, lake: str, connection_string: str | None) -> dict[str, str]:
    """No identity anywhere, and none that could be looked for on the network: only EnvironmentCredential (unset)
    is tried, HOME is empty (no az / azd / VS Code token caches)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "CHARGEBACK_", "IDENTITY_", "MSI_"))}
    env |= {
        "HOME": str(tmp_path / "home"),
        "AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential",
        "CHARGEBACK_LAKE_URL": lake,
        "CHARGEBACK_CHECKPOINT_URL": lake.rsplit("/", 1)[0] + "/checkpoints",
        "CHARGEBACK_EVENTHUB_CONNECTION_STRING": "Endpoint=sb://127.0.0.1:9/;SharedAccessKeyName=k;SharedAccessKey=v",
        "CHARGEBACK_EVENTHUB_NAME": "usage",
        "CHARGEBACK_HEALTH_PORT": "0",
    }
    if connection_string:
        env["CHARGEBACK_STORAGE_CONNECTION_STRING"] = connection_string
    return env


def _run(command: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    args = [a.format(tmp=tmp_path) for a in COMMANDS[command]]
    return subprocess.run(
        [sys.executable, "-m", "chargeback", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 5, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "terminate called" not in result.stderr
    plain = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert len(plain) == 1 and plain[0].startswith("error: "), plain
    for line in result.stderr.splitlines():
        if line.startswith("{"):
            json.loads(line)  # the rest are structured log lines
    for text in expected:
        assert text in plain[0], plain[0]
    return plain[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_azure_lake_without_any_identity(command, tmp_path):
    lake = "https://chargebacklake01.dfs.core.windows.net/lake/prod"
    result = _run(command, _environment(tmp_path, lake, None), tmp_path)
    _assert_one_line(result, "https://chargebacklake01.blob.core.windows.net/", "no credential")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_emulator_lake_without_its_connection_string(command, tmp_path, azurite):
    result = _run(command, _environment(tmp_path, f"{azurite.blob_endpoint}/lake", None), tmp_path)
    _assert_one_line(result, azurite.blob_endpoint, "no credential", "CHARGEBACK_STORAGE_CONNECTION_STRING")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_emulator_refusing_the_key(command, tmp_path, azurite):
    wrong = azurite.connection_string.replace(KEY, WRONG_KEY)
    result = _run(command, _environment(tmp_path, f"{azurite.blob_endpoint}/lake", wrong), tmp_path)
    line = _assert_one_line(result, azurite.blob_endpoint, "forbidden")
    assert WRONG_KEY not in result.stdout + result.stderr and WRONG_KEY[:16] not in line
