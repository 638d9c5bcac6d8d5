"""Expected failures of the real `chargeback` command end as ONE line, `error: ...`, with the documented exit code.

Each case here was a traceback (or a wrong exit code) before the one error path: the command is driven as a user
drives it (typer's CliRunner on `chargeback.cli.app`, or a subprocess where the consumer tunes its own process).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from chargeback.cli import app
from common.exitcodes import ExitCode

# No CHARGEBACK_* variable of the machine or of another test leaks into a case.
CLEAN = {name: "" for name in os.environ if name.startswith("CHARGEBACK_")}


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, args, env=CLEAN | (env or {}))


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`chargeback ARGS` in its own process (the consumer tunes the allocator and GC of the process it runs in)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEBACK_")}
    return subprocess.run(
        [sys.executable, "-m", "chargeback", *args],
        env=base | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def the_line(exit_code: int, stderr: str, expected: ExitCode, exception: BaseException | None = None) -> str:
    """The one `error: ...` line of a failed command; fails unless it is exactly one line and the right code."""
    assert "Traceback" not in stderr, stderr
    assert exception is None or isinstance(exception, SystemExit), repr(exception)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert exit_code == expected, (exit_code, stderr)
    return lines[0]


def one_line(result: Result, expected: ExitCode) -> str:
    return the_line(result.exit_code, result.stderr, expected, result.exception)


def test_unknown_log_level_is_a_usage_error():
    line = one_line(invoke(["--log-level", "foo", "schemas", "export", "x"]), ExitCode.USAGE)
    assert "'foo'" in line and "debug" in line
    line = one_line(invoke(["schemas", "export", "x"], {"CHARGEBACK_LOG_LEVEL": "loud"}), ExitCode.USAGE)
    assert "CHARGEBACK_LOG_LEVEL" in line


@pytest.mark.parametrize("where", ["file/below", "missing/../file/x"])
def test_schemas_export_to_a_path_that_cannot_be_written(tmp_path, where):
    (tmp_path / "file").write_text("not a folder")
    line = one_line(invoke(["schemas", "export", str(tmp_path / where)]), ExitCode.USAGE)
    assert "cannot write" in line and str(tmp_path) in line


def test_policy_render_out_that_cannot_be_written(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    line = one_line(invoke(["policy", "render", "--out", str(tmp_path / "file" / "policy.xml")]), ExitCode.USAGE)
    assert "cannot write" in line and "policy.xml" in line


def _request(tmp_path: Path, **fields: object) -> tuple[str, str]:
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"method": "POST", "headers": {}, **fields}))
    response = tmp_path / "resp.json"
    response.write_text(json.dumps({"status": 200, "headers": {}, "body": {"usage": {"total_tokens": 1}}}))
    return str(request), str(response)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"url": "not a url"}, '"url"'),
        ({"url": "ftp://gw/openai/x"}, '"url"'),
        ({"url": "https://gw:99999/x"}, '"url"'),
        ({"url": "https://[zz]/x"}, '"url"'),
        ({"url": "https://gw/x", "matched_parameters": ["a", "b"]}, '"matched_parameters"'),
        ({"url": "https://gw/x", "matched_parameters": {"a": {"nested": 1}}}, '"matched_parameters"'),
        ({"url": "https://gw/x", "ip": 7}, '"ip"'),
    ],
)
def test_policy_simulate_request_that_apim_could_not_send(tmp_path, fields, named):
    """Checked before Mono starts: a URL System.Uri refuses used to end in a Mono stack trace (exit 1)."""
    request, response = _request(tmp_path, **fields)
    line = one_line(invoke(["policy", "simulate", "--request", request, "--response", response]), ExitCode.USAGE)
    assert named in line


def test_policy_simulate_missing_file_is_not_found_and_bad_option_is_usage(tmp_path):
    request, response = _request(tmp_path, url="https://gw/x")
    missing = str(tmp_path / "nope.json")
    line = one_line(invoke(["policy", "simulate", "--request", missing, "--response", response]), ExitCode.NOT_FOUND)
    assert "nope.json" in line
    result = invoke(["policy", "simulate", "--request", request, "--response", missing])
    assert "nope.json" in one_line(result, ExitCode.NOT_FOUND)
    result = invoke(["policy", "simulate", "--request", request, "--response", response, "--named-value", "x"])
    assert "--named-value" in one_line(result, ExitCode.USAGE)


def test_policy_simulate_non_utf8_request_is_a_format_error(tmp_path):
    _, response = _request(tmp_path, url="https://gw/x")
    request = tmp_path / "latin1.json"
    request.write_bytes(b'{"url": "https://gw/\xff"}')
    line = one_line(invoke(["policy", "simulate", "--request", str(request), "--response", response]), ExitCode.USAGE)
    assert "latin1.json" in line


def test_policy_dir_with_a_non_utf8_policy_is_a_data_check(tmp_path):
    request, response = _request(tmp_path, url="https://gw/x")
    folder = tmp_path / "policy"
    (folder / "fragments").mkdir(parents=True)
    (folder / "policy.xml").write_bytes(b"<policies>\xff</policies>")
    result = invoke(["policy", "simulate", "--request", request, "--response", response, "--policy-dir", str(folder)])
    assert "not UTF-8" in one_line(result, ExitCode.DATA)


def test_sql_garbage_storage_connection_string_is_configuration(tmp_path):
    env = {
        "CHARGEBACK_LAKE_URL": "http://127.0.0.1:9/devstoreaccount1/lake",
        "CHARGEBACK_STORAGE_CONNECTION_STRING": "garbage",
    }
    one_line(invoke(["sql", "SELECT 1"], env), ExitCode.CONFIG)


def test_price_sheet_that_is_not_utf8(tmp_path):
    (tmp_path / "lake").mkdir()
    sheet = tmp_path / "prices.csv"
    sheet.write_bytes("model,unit\ngpt-4o,1M tokens €\n".encode("cp1252"))
    env = {"CHARGEBACK_LAKE_URL": str(tmp_path / "lake"), "CHARGEBACK_PRICE_SHEET": str(sheet)}
    for args in (["sql", "SELECT 1"], ["report", "--month", "2026-01", "--out", str(tmp_path / "r.html")]):
        line = one_line(invoke(args, env), ExitCode.CONFIG)
        assert "prices.csv" in line and "UTF-8" in line


@pytest.mark.parametrize("content", [b"garbage, not Parquet\n", b"PAR1" + b"\0" * 64], ids=["not-parquet", "truncated"])
def test_aggregate_over_a_corrupt_usage_file_is_a_data_check(tmp_path, content):
    """A corrupt file in the lake stops the day's roll-up with its lake path (exit 6): never a traceback, and
    never totals from the files that happened to be readable."""
    hour = tmp_path / "lake" / "usage" / "event_date=2026-12-01" / "event_hour=00"
    hour.mkdir(parents=True)
    (hour / "part-x.parquet").write_bytes(content)
    env = {"CHARGEBACK_LAKE_URL": str(tmp_path / "lake")}
    line = one_line(invoke(["aggregate", "--date", "2026-12-01"], env), ExitCode.DATA)
    assert "event_hour=00/part-x.parquet" in line and "not readable Parquet" in line
    assert not (tmp_path / "lake" / "chargeback_daily").exists()


def test_aggregator_configuration_names_environment_variables():
    env = {"CHARGEBACK_LATE_DATA_DAYS": "abc", "CHARGEBACK_PAYLOAD_RETENTION_DAYS": "0"}
    line = one_line(invoke(["retention", "apply", "--dry-run", "--lake", "x"], env), ExitCode.CONFIG)
    assert "CHARGEBACK_LATE_DATA_DAYS:" in line and "CHARGEBACK_PAYLOAD_RETENTION_DAYS:" in line
    assert "late_data_days" not in line and "abc" not in line and "validation error" not in line


def test_sql_output_that_cannot_be_written(tmp_path):
    (tmp_path / "lake").mkdir()
    out = tmp_path / "missing" / "deeper" / "x.csv"
    result = invoke(["sql", "SELECT 1 AS n", "--format", "csv", "--out", str(out), "--lake", str(tmp_path / "lake")])
    assert "cannot write" in one_line(result, ExitCode.USAGE)


def test_prices_import_out_that_cannot_be_written(tmp_path):
    response = tmp_path / "retail.json"
    response.write_text(json.dumps({"Items": []}))
    (tmp_path / "file").write_text("")
    result = invoke(["prices", "import", str(response), "--out", str(tmp_path / "file" / "sheet.csv")])
    assert "cannot write" in one_line(result, ExitCode.USAGE)


@pytest.fixture
def consumer_env(tmp_path: Path) -> dict[str, str]:
    return {
        "CHARGEBACK_LAKE_URL": str(tmp_path / "lake"),
        "CHARGEBACK_CHECKPOINT_URL": str(tmp_path / "checkpoints"),
        "CHARGEBACK_EVENTHUB_CONNECTION_STRING": (
            "Endpoint=sb://127.0.0.1:9;SharedAccessKeyName=k;SharedAccessKey=k;EntityPath=usage;"
            "UseDevelopmentEmulator=true"
        ),
        "CHARGEBACK_HEALTH_PORT": "0",
    }


@pytest.mark.parametrize("garbage", ["garbage", "Endpoint=sb://h;SharedAccessKey:abc"])
def test_consume_garbage_event_hubs_connection_string(tmp_path, consumer_env, garbage):
    done = run(
        ["consume", "--until-idle", "1"], consumer_env | {"CHARGEBACK_EVENTHUB_CONNECTION_STRING": garbage}, tmp_path
    )
    line = the_line(done.returncode, done.stderr, ExitCode.CONFIG)
    assert "CHARGEBACK_EVENTHUB_CONNECTION_STRING" in line


def test_consume_health_port_already_in_use(tmp_path, consumer_env):
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run(["consume", "--until-idle", "1"], consumer_env | {"CHARGEBACK_HEALTH_PORT": str(port)}, tmp_path)
    line = the_line(done.returncode, done.stderr, ExitCode.UNAVAILABLE)
    assert f"CHARGEBACK_HEALTH_PORT={port}" in line


def test_consume_configuration_names_environment_variables(tmp_path, consumer_env):
    env = consumer_env | {"CHARGEBACK_HEALTH_PORT": "http", "CHARGEBACK_FLUSH_MAX_ROWS": "0"}
    del env["CHARGEBACK_LAKE_URL"]
    done = run(["consume", "--until-idle", "1"], env, tmp_path)
    line = the_line(done.returncode, done.stderr, ExitCode.CONFIG)
    for variable in ("CHARGEBACK_HEALTH_PORT:", "CHARGEBACK_FLUSH_MAX_ROWS:", "CHARGEBACK_LAKE_URL: is required"):
        assert variable in line
    assert "health_port" not in line and "'http'" not in line


def test_debug_log_level_keeps_the_json_story(tmp_path):
    """At --log-level debug the failure is also one JSON log line (masked), before the `error:` line."""
    (tmp_path / "file").write_text("")
    result = invoke(["--log-level", "debug", "schemas", "export", str(tmp_path / "file" / "below")])
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    failed = [r for r in records if r.get("event") == "command_failed"]
    assert failed and failed[0]["exit_code"] == ExitCode.USAGE and "OutputError" in failed[0]["error"]
    assert result.stderr.splitlines()[-1].startswith("error: ")


def test_demo_out_that_cannot_be_written(tmp_path):
    (tmp_path / "file").write_text("")
    line = one_line(invoke(["demo", "--out", str(tmp_path / "file" / "demo"), "--calls", "10"]), ExitCode.USAGE)
    assert "cannot write" in line


@pytest.mark.parametrize("standalone", [False, True], ids=["chargeback devhub", "python -m localhub"])
def test_devhub_port_already_in_use(tmp_path, standalone):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        if standalone:
            done = subprocess.run(
                [sys.executable, "-m", "localhub", "--port", port],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            line = the_line(done.returncode, done.stderr, ExitCode.UNAVAILABLE)
        else:
            line = one_line(invoke(["devhub", "--port", port]), ExitCode.UNAVAILABLE)
    assert f"127.0.0.1:{port}" in line


def test_consume_lake_that_cannot_be_created(tmp_path, consumer_env):
    (tmp_path / "file").write_text("")
    done = run(
        ["consume", "--until-idle", "1"],
        consumer_env | {"CHARGEBACK_LAKE_URL": str(tmp_path / "file" / "lake")},
        tmp_path,
    )
    line = the_line(done.returncode, done.stderr, ExitCode.UNAVAILABLE)
    assert "CHARGEBACK_LAKE_URL" in line
