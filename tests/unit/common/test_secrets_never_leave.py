"""Secrets never leave: a distinctive secret driven through every command's failure paths appears nowhere.

Each secret is planted where a user would put it (a storage or Event Hubs connection string, a SAS on a URL, a mistyped
`AccountKey:` element, a bearer token or API key in a request file) and each command is run at `--log-level debug`,
so the JSON log lines (tracebacks and chained causes included) are checked along with the `error:` line, stdout and
every file the command left in the lake or checkpoint folders.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chargeback.cli import app

KEY = "S3cretAccountKey0123456789AB"  # valid base64: a malformed key aborts native code (storage's probe)
SIG = "S3cretSigZZ9%3D"
SAK = "S3cretSharedAccessKeyXX5"
BEARER = "eyJS3cretBearer.eyJpayload.sigPart"
API_KEY = "S3cretApiKey0042"
SECRETS = (KEY, SIG, SAK, BEARER, API_KEY, "S3cret")

DEAD_PORT = 9  # discard: nothing listens there on a test machine
EMULATOR_LAKE = f"http://127.0.0.1:{DEAD_PORT}/devstoreaccount1/lake"
STORAGE = (
    f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
    f"BlobEndpoint=http://127.0.0.1:{DEAD_PORT}/devstoreaccount1;"
)
MISTYPED_STORAGE = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey:{KEY};"
SAS_STORAGE = f"BlobEndpoint=http://127.0.0.1:{DEAD_PORT}/devstoreaccount1;SharedAccessSignature=sv=2024&sig={SIG}"
EVENTHUB = (
    f"Endpoint=sb://127.0.0.1:{DEAD_PORT};SharedAccessKeyName=k;SharedAccessKey={SAK};EntityPath=usage;"
    "UseDevelopmentEmulator=true"
)
CLEAN = {name: "" for name in os.environ if name.startswith("CHARGEBACK_")}


def assert_nothing_leaked(*texts: str, folders: tuple[Path, ...] = ()) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text[-2000:])
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else ():
            if path.is_file():
                data = path.read_bytes()
                assert not any(secret.encode() in data for secret in SECRETS), path


def aggregator_cases(lake: Path, out: Path) -> list[tuple[list[str], dict[str, str]]]:
    commands = [
        ["aggregate", "--date", "2026-11-10"],
        ["sql", "SELECT count(*) FROM usage"],
        ["report", "--month", "2026-11", "--out", str(out / "r.html")],
        ["export", "focus", "--month", "2026-11", "--out", str(out / "f.csv")],
        ["compact", "--date", "2026-11-10"],
        ["retention", "apply"],
        ["nightly"],
        ["budgets", "evaluate"],
        ["alerts", "evaluate"],
    ]
    # Refused before any I/O: every command.
    configuration = [
        {"CHARGEBACK_LAKE_URL": EMULATOR_LAKE, "CHARGEBACK_STORAGE_CONNECTION_STRING": MISTYPED_STORAGE},
        {"CHARGEBACK_LAKE_URL": f"{lake}/missing?sv=2024&sig={SIG}"},
        {"CHARGEBACK_LAKE_URL": f"ftp://host/lake?sig={SIG}"},
    ]
    sheet = {"CHARGEBACK_LAKE_URL": str(lake), "CHARGEBACK_PRICE_SHEET": f"/nowhere/prices.csv?sig={SIG}"}
    # Storage that does not answer (the SDK retries for seconds): once, through `sql`, the SAS and the key on the way.
    unreachable = [
        {"CHARGEBACK_LAKE_URL": f"{EMULATOR_LAKE}?sv=2024&sig={SIG}", "CHARGEBACK_STORAGE_CONNECTION_STRING": STORAGE},
        {"CHARGEBACK_LAKE_URL": EMULATOR_LAKE, "CHARGEBACK_STORAGE_CONNECTION_STRING": SAS_STORAGE},
    ]
    return [
        *((command, env) for command in commands for env in configuration),
        *((command, sheet) for command in commands[:3]),  # the commands that read the price sheet
        *((commands[1], env) for env in unreachable),
    ]


def test_aggregator_prices_and_policy_failures_keep_secrets(tmp_path):
    lake, out = tmp_path / "lake", tmp_path / "out"
    lake.mkdir()
    out.mkdir()
    request = tmp_path / "req.json"
    request.write_text(
        json.dumps(
            {
                "url": f"https://gw/openai/deployments/d/chat/completions?sig={SIG}",
                "headers": {"Authorization": f"Bearer {BEARER}", "api-key": API_KEY},
                "matched_parameters": [f"AccountKey={KEY}"],
            }
        )
    )
    response = tmp_path / "resp.json"
    response.write_text(json.dumps({"status": 200, "body": {"usage": {"total_tokens": 1}}}))
    simulate = ["policy", "simulate", "--request", str(request), "--response", str(response)]
    cases = [
        *aggregator_cases(lake, out),
        (["prices", "import", f"https://prices.example/retail.json?sv=1&sig={SIG}"], {}),
        (["prices", "import", str(response), "--rename", f"AccountKey:{KEY}"], {}),
        (["config", "push", "--prices", str(response), "--config-url", f"{EMULATOR_LAKE}?sig={SIG}"], {}),
        (["config", "push", "--config-url", EMULATOR_LAKE], {"CHARGEBACK_STORAGE_CONNECTION_STRING": MISTYPED_STORAGE}),
        (simulate, {}),
        ([*simulate[:3], str(response), *simulate[4:], "--named-value", f"SharedAccessKey:{SAK}"], {}),
        ([*simulate, "--header", f"Authorization Bearer {BEARER}"], {}),
    ]
    for args, env in cases:
        result = CliRunner().invoke(app, ["--log-level", "debug", *args], env=CLEAN | env)
        assert result.exit_code not in (0, 1), (args, env, result.stderr[-1500:])
        assert result.stderr.splitlines()[-1].startswith("error: "), (args, result.stderr[-1500:])
        assert_nothing_leaked(result.stdout, result.stderr, folders=(lake, out))


@pytest.fixture
def busy_port():
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_consume_failures_keep_secrets(tmp_path, busy_port):
    lake, checkpoints = tmp_path / "lake", tmp_path / "checkpoints"
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEBACK_")} | {
        "CHARGEBACK_LAKE_URL": str(lake),
        "CHARGEBACK_CHECKPOINT_URL": str(checkpoints),
        "CHARGEBACK_HEALTH_PORT": "0",
        "CHARGEBACK_EVENTHUB_CONNECTION_STRING": EVENTHUB,
    }
    cases = [
        {"CHARGEBACK_EVENTHUB_CONNECTION_STRING": EVENTHUB.replace("SharedAccessKey=", "SharedAccessKey:")},
        {"CHARGEBACK_EVENTHUB_CONNECTION_STRING": f"{EVENTHUB};Garbage", "CHARGEBACK_FLUSH_MAX_ROWS": "zero"},
        {"CHARGEBACK_HEALTH_PORT": str(busy_port)},
        {"CHARGEBACK_CHECKPOINT_URL": f"ftp://host/checkpoints?sig={SIG}"},
    ]
    for env in cases:
        done = subprocess.run(
            [sys.executable, "-m", "chargeback", "--log-level", "debug", "consume", "--until-idle", "1"],
            env=base | env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode not in (0, 1), (env, done.stderr[-1500:])
        assert done.stderr.splitlines()[-1].startswith("error: "), (env, done.stderr[-1500:])
        assert "Traceback" not in done.stderr.split('"exception"')[0], done.stderr[-1500:]
        assert_nothing_leaked(done.stdout, done.stderr, folders=(lake, checkpoints))
