"""The shell's one error path: an expected failure is one redacted line and its exit code; logs are masked too."""

from __future__ import annotations

import json
import logging

import pytest
import typer
from typer.testing import CliRunner

from chargeback.cli import app
from common.errors import ChargebackError, ConfigurationError, UnavailableError
from common.exitcodes import ExitCode
from common.logs import configure_logging, get_logger


@pytest.fixture
def failing_command():
    probe = typer.Typer()

    @probe.command("raise-for-test")
    def _raise(kind: str) -> None:
        if kind == "config":
            raise ConfigurationError("CHARGEBACK_LAKE_URL: AccountKey=TOPSECRET; is not a location")
        if kind == "unavailable":
            raise UnavailableError("storage unreachable: https://a.blob.core.windows.net/x?sv=1&sig=SIGSECRET")
        raise RuntimeError("a bug")

    app.add_typer(probe, name="probe-for-test")
    yield
    app.registered_groups[:] = [g for g in app.registered_groups if g.name != "probe-for-test"]


@pytest.mark.parametrize(
    ("kind", "code", "secret"),
    [("config", ExitCode.CONFIG, "TOPSECRET"), ("unavailable", ExitCode.UNAVAILABLE, "SIGSECRET")],
)
def test_expected_failure_is_one_masked_line(failing_command, kind, code, secret):
    result = CliRunner().invoke(app, ["probe-for-test", "raise-for-test", kind])
    assert result.exit_code == code
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert secret not in result.output + result.stderr
    assert "***" in lines[0]


def test_unexpected_failure_keeps_its_exception(failing_command):
    result = CliRunner().invoke(app, ["probe-for-test", "raise-for-test", "bug"])
    assert result.exit_code == ExitCode.FAILURE
    assert isinstance(result.exception, RuntimeError)


def test_every_error_category_carries_its_code():
    assert ChargebackError.exit_code == ExitCode.FAILURE
    assert ConfigurationError("x").exit_code == ExitCode.CONFIG
    assert issubclass(UnavailableError, ChargebackError)


def test_log_lines_are_masked(capsys):
    configure_logging("INFO", json=True)
    try:
        try:
            raise ValueError("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=KEYSECRET==;")
        except ValueError:
            get_logger("test").exception("failed", url="https://a/c?sig=SIGSECRET&se=1", token="Bearer eyJhbGciOi.x.y")
    finally:
        logging.getLogger().handlers.clear()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    for secret in ("KEYSECRET", "SIGSECRET", "eyJhbGciOi"):
        assert secret not in line
    assert record["event"] == "failed" and "AccountName=a" in record["exception"]
