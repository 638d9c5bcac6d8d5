"""`chargeback config push`: files checked with the job's parsers before anything is written; defaults only where
nothing is there yet; the deployments map required once; the settings printed as NAME=URL lines."""

from __future__ import annotations

from typer.testing import CliRunner

from aggregator.config_push import CONFIG_FILES, NO_PTU
from aggregator.settings import SHIPPED_PRICE_SHEET
from chargeback.cli import app

DEPLOYMENTS = "deployment,deployment_type,region\ngpt-4.1,global,\n"


def _push(args: list[str], config, **env: str):
    clean = {"CHARGEBACK_STORAGE_CONNECTION_STRING": "", "CHARGEBACK_CONFIG_URL": str(config)} | env
    return CliRunner().invoke(app, ["config", "push", *args], env=clean)


def test_first_push_needs_the_deployments_map_and_writes_nothing_without_it(tmp_path):
    config = tmp_path / "config"
    result = _push([], config)
    assert result.exit_code == 3
    assert "CHARGEBACK_DEPLOYMENTS_CONFIG" in result.output and "--deployments" in result.output
    assert not config.exists() or list(config.iterdir()) == []


def test_push_uploads_given_files_fills_defaults_and_prints_the_settings(tmp_path):
    config = tmp_path / "config"
    (tmp_path / "d.csv").write_text(DEPLOYMENTS)
    result = _push(["--deployments", str(tmp_path / "d.csv")], config)
    assert result.exit_code == 0, result.output
    assert (config / "deployments.csv").read_text() == DEPLOYMENTS
    assert (config / "prices.csv").read_bytes() == SHIPPED_PRICE_SHEET.read_bytes()
    assert (config / "ptu.json").read_bytes() == NO_PTU
    printed = [line for line in result.stdout.splitlines() if "=" in line and line.startswith("CHARGEBACK_")]
    assert printed == [f"{s.variable}={config / s.blob}" for s in CONFIG_FILES]

    # A second push of one file keeps the others as they are (no default overwrites a file that is there).
    (config / "prices.csv").write_text(SHIPPED_PRICE_SHEET.read_text() + "# edited by hand\n")
    (tmp_path / "ptu.json").write_text('{"provisioned": []}')
    again = _push(["--ptu", str(tmp_path / "ptu.json")], config)
    assert again.exit_code == 0, again.output
    assert (config / "prices.csv").read_text().endswith("# edited by hand\n")
    assert (config / "ptu.json").read_text() == '{"provisioned": []}'


def test_a_malformed_file_stops_the_push_before_anything_is_written(tmp_path):
    config = tmp_path / "config"
    (tmp_path / "d.csv").write_text(DEPLOYMENTS)
    (tmp_path / "bad.csv").write_text("model,deployment_type\ngpt-4.1,everywhere\n")
    result = _push(["--deployments", str(tmp_path / "d.csv"), "--prices", str(tmp_path / "bad.csv")], config)
    assert result.exit_code == 3, result.output
    assert not (config / "deployments.csv").exists(), "one bad file uploads nothing"


def test_no_destination_is_a_configuration_error_naming_the_variable(tmp_path):
    result = CliRunner().invoke(app, ["config", "push"], env={"CHARGEBACK_CONFIG_URL": ""})
    assert result.exit_code == 3 and "CHARGEBACK_CONFIG_URL" in result.output
