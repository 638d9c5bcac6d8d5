"""Every roll-up run is recorded in `aggregation_runs`, visible to `chargeback sql` (issue 12, item 2)."""

from __future__ import annotations

import hashlib
import json

from aggregator.aggregate import aggregate_days
from aggregator.lakeio import open_lake
from tests.unit.aggregator import handcomputed as hc
from tests.unit.aggregator.cli_app import invoke
from tests.unit.aggregator.pricing_fixture import DEPLOYMENTS, PTU, SHEET, TEAMS


def _runs(env: dict[str, str]) -> list[dict]:
    query = "SELECT * EXCLUDE (started_at, finished_at, run_date) FROM aggregation_runs ORDER BY started_at"
    result = invoke(["sql", query, "--format", "json"], env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_run_records_its_days_config_digests_and_row_counts(aggregated_lake):
    (run,) = _runs(aggregated_lake.env)
    daily = invoke(["sql", "SELECT count(*) AS n FROM chargeback_daily", "--format", "json"], aggregated_lake.env)
    assert run["chargeback_daily_rows"] == json.loads(daily.output)[0]["n"] > 0
    assert run["days"] == [hc.DAY_A.isoformat(), hc.DAY_B.isoformat()] and run["months"] == ["2026-11"]
    config = aggregated_lake.root.parent / "config"
    assert run["price_sheet_location"] == str(config / "prices.csv")
    assert run["price_sheet_sha256"] == hashlib.sha256(SHEET.encode()).hexdigest()
    files = {f["name"]: (f["location"], f["sha256"]) for f in run["config_files"]}
    assert files == {
        "price sheet": (str(config / "prices.csv"), hashlib.sha256(SHEET.encode()).hexdigest()),
        "deployments map": (str(config / "deployments.csv"), hashlib.sha256(DEPLOYMENTS.encode()).hexdigest()),
        "PTU config": (str(config / "ptu.json"), hashlib.sha256(PTU.encode()).hexdigest()),
        "teams map": (str(config / "teams.csv"), hashlib.sha256(TEAMS.encode()).hexdigest()),
    }
    assert run["usage_files"] > 0 and len(run["run_id"]) == 32


def test_each_run_adds_a_row_and_a_changed_price_sheet_shows(aggregated_lake):
    sheet = aggregated_lake.root.parent / "config" / "prices.csv"
    sheet.write_text(SHEET + "o3,global,*,USD,1M tokens,2.00,0.50,8.00,,,,test\n")
    aggregate_days(open_lake(str(aggregated_lake.root)), [hc.DAY_B], aggregated_lake.settings)
    first, second = _runs(aggregated_lake.env)
    assert first["run_id"] != second["run_id"] and second["days"] == [hc.DAY_B.isoformat()]
    assert second["price_sheet_sha256"] == hashlib.sha256(sheet.read_bytes()).hexdigest() != first["price_sheet_sha256"]


def test_a_lake_never_aggregated_has_an_empty_runs_view(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    result = invoke(["sql", "SELECT count(*) AS n FROM aggregation_runs", "--format", "json", "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"n": 0}]
