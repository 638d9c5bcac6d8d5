"""`chargeback serve` fails with one line and its exit code, never a traceback or a secret."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from chargeback.cli import app
from common.exitcodes import ExitCode


def run(env: dict[str, str], *args: str):
    clean = {"CHARGEBACK_API_AUTH": "", "CHARGEBACK_API_KEY": "", "CHARGEBACK_API_HOST": ""}
    return CliRunner().invoke(app, ["serve", *args], env=clean | env)


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return lines[0]


def test_entra_without_tenant_names_the_variables(tmp_path):
    result = run({"CHARGEBACK_API_AUTH": "entra", "CHARGEBACK_LAKE_URL": str(tmp_path)})
    assert result.exit_code == ExitCode.CONFIG
    line = one_line(result)
    assert "CHARGEBACK_API_TENANT_ID" in line and "CHARGEBACK_API_AUDIENCE" in line


def test_api_key_is_refused_beyond_loopback_and_never_echoed(tmp_path):
    secret = "k" * 20 + "SECRETVALUE"
    result = run({"CHARGEBACK_API_AUTH": "api_key", "CHARGEBACK_API_KEY": secret, "CHARGEBACK_API_HOST": "0.0.0.0"})
    assert result.exit_code == ExitCode.CONFIG
    assert "loopback" in one_line(result) and "SECRETVALUE" not in result.output + result.stderr


def test_taken_port_is_one_line_and_exit_5(tmp_path):
    (tmp_path / "lake").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run(
            {
                "CHARGEBACK_API_AUTH": "api_key",
                "CHARGEBACK_API_KEY": "x" * 24,
                "CHARGEBACK_LAKE_URL": str(tmp_path / "lake"),
            },
            "--port",
            str(port),
        )
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert f"127.0.0.1:{port}" in one_line(result)


def test_bad_group_map_is_a_configuration_error(tmp_path):
    result = run(
        {
            "CHARGEBACK_API_AUTH": "entra",
            "CHARGEBACK_API_TENANT_ID": "t",
            "CHARGEBACK_API_AUDIENCE": "a",
            "CHARGEBACK_API_GROUP_TEAMS": "{not json",
        }
    )
    assert result.exit_code == ExitCode.CONFIG
    assert "CHARGEBACK_API_GROUP_TEAMS" in one_line(result)
