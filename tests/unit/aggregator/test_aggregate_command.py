"""`chargeback aggregate`: date arguments, clear errors that touch nothing, the late-data window; PTU shares."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.dates import default_days
from aggregator.ptu import ALLOCATION_QUANTUM, Share, allocate
from tests.unit.aggregator import handcomputed as hc
from tests.unit.aggregator.cli_app import invoke


def snapshot(root) -> list:
    return sorted((str(p), p.stat().st_mtime_ns) for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--date", "2026-02-30"], 2, "not a calendar date"),
        (["--from", "2026-11-20", "--to", "2026-11-10"], 2, "before"),
        (["--from", "2026-11-20"], 2, "go together"),
        (["--date", "2026-11-10", "--from", "2026-11-01", "--to", "2026-11-02"], 2, "either"),
        (["--date", "2026-11-10", "--lake", "/nonexistent/lake"], 4, "no lake"),
    ],
)
def test_bad_arguments_get_a_clear_error_and_touch_nothing(aggregated_lake, args, code, message):
    before = snapshot(aggregated_lake.root)
    result = invoke(["aggregate", *args], aggregated_lake.env)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert snapshot(aggregated_lake.root) == before


def test_a_broken_price_sheet_stops_the_run_before_anything_is_written(aggregated_lake, tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_text("model,deployment_type\ngpt-4.1,global\n")
    before = snapshot(aggregated_lake.root)
    result = invoke(
        ["aggregate", "--date", "2026-11-10"], aggregated_lake.env | {"CHARGEBACK_PRICE_SHEET": str(broken)}
    )
    assert result.exit_code == 3 and "missing column" in result.output
    assert snapshot(aggregated_lake.root) == before


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        ("CHARGEBACK_PRICE_SHEET", "model,deployment_type,unit\ngpt-4.1,global,1M tokens \u20ac\n"),
        ("CHARGEBACK_DEPLOYMENTS_CONFIG", "deployment,deployment_type\ngpt-4.1-\u00e9,global\n"),
    ],
)
def test_a_configuration_file_that_is_not_utf8_is_one_line(aggregated_lake, tmp_path, variable, text):
    """Saved from Excel as cp1252: once a UnicodeDecodeError traceback (exit 1), now one line and exit 3."""
    from typer.testing import CliRunner

    from chargeback.cli import app

    broken = tmp_path / "excel.csv"
    broken.write_bytes(text.encode("cp1252"))
    before = snapshot(aggregated_lake.root)
    result = CliRunner().invoke(
        app, ["aggregate", "--date", "2026-11-10"], env=aggregated_lake.env | {variable: str(broken)}
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 3 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "excel.csv" in lines[0] and "UTF-8" in lines[0]
    assert snapshot(aggregated_lake.root) == before


def test_a_lake_without_usage_is_reported(tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke(["aggregate", "--date", "2026-11-10", "--lake", str(tmp_path / "empty")])
    assert result.exit_code == 4 and "no usage table" in result.output


def test_the_command_aggregates_a_range_and_rebuilds_the_month(aggregated_lake):
    result = invoke(["aggregate", "--from", "2026-11-09", "--to", "2026-11-11"], aggregated_lake.env)
    assert result.exit_code == 0, result.output
    assert "2026-11-10: 8 chargeback rows, 2 unpriced, 2 PTU allocations" in result.output
    assert "months rebuilt: 2026-11" in result.output
    assert (aggregated_lake.root / "chargeback_daily" / "date=2026-11-09" / "part-0.parquet").exists()


def test_default_days_are_yesterday_plus_the_late_data_window():
    assert default_days(2, today=date(2026, 3, 1)) == [date(2026, 2, 26), date(2026, 2, 27), date(2026, 2, 28)]
    assert default_days(0, today=date(2026, 1, 1)) == [date(2025, 12, 31)]


def test_unknown_deployments_are_reported_not_priced_as_global(aggregated_lake):
    query = "SELECT deployment, deployment_type, pricing_status FROM chargeback_daily WHERE deployment = 'rogue'"
    result = invoke(["sql", query, "--format", "csv"], aggregated_lake.env)
    assert result.output.splitlines()[1] == '"rogue",,"unpriced"'


@given(
    st.decimals(min_value=0, max_value=100000, places=8, allow_nan=False, allow_infinity=False),
    st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=30),
)
def test_ptu_shares_add_up_to_the_day_cost_exactly(cost, tokens):
    shares = allocate(cost, [Share(i, t) for i, t in enumerate(tokens)])
    assert sum(shares.values()) == cost
    total = sum(tokens)
    for i, t in enumerate(tokens):
        assert abs(shares[i] - cost * t / total) <= ALLOCATION_QUANTUM


def test_hand_computed_ptu_share():
    assert allocate(Decimal("480"), [Share(1, 4_000_000), Share(2, 1_000_000)]) == {1: Decimal("384"), 2: Decimal("96")}
    assert sum(hc.TEAM_DAY_COST.values()) == hc.MONTH_TOTAL
