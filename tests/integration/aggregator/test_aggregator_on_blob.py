"""The aggregator against a lake in Blob Storage (real Azurite): aggregate, SQL, FOCUS, report, compact, retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from aggregator.lakeio import open_lake
from schemas.lake import open_location
from tests.support import handcomputed as hc
from tests.support.aggregator_cli import invoke
from tests.support.lake_builder import LakeBuilder, payload_row
from tests.support.pricing import env_for, write_config

pytestmark = pytest.mark.integration


@pytest.fixture
def blob_lake(azurite, tmp_path):
    url = f"{azurite.blob_endpoint}/chargeback/lake"
    location = open_location(url, connection_string=azurite.connection_string)
    location.ensure_root()
    builder = LakeBuilder(location)
    extra = hc.build(builder)
    settings = write_config(tmp_path / "config", url, azurite.connection_string)
    return location, builder, extra, env_for(settings)


def test_the_whole_aggregator_on_a_blob_lake(blob_lake, tmp_path):
    location, builder, extra, env = blob_lake
    result = invoke(["aggregate", "--date", hc.DAY_A.isoformat()], env)
    assert result.exit_code == 0, result.output
    assert invoke(["aggregate", "--date", hc.DAY_B.isoformat()], env).exit_code == 0
    builder.usage([extra["late"]])
    assert invoke(["aggregate", "--date", hc.DAY_B.isoformat()], env).exit_code == 0, "late data re-aggregated"

    daily = location.path("chargeback_daily", f"date={hc.DAY_A}", "part-0.parquet")
    rows = pq.read_table(daily, filesystem=location.filesystem).to_pylist()
    assert sum(r["total_cost"] for r in rows if r["team"] == "a") == hc.TEAM_DAY_COST[(hc.DAY_A, "a")]

    query = "SELECT team, sum(total_cost) AS cost FROM chargeback_monthly GROUP BY team ORDER BY team NULLS LAST"
    result = invoke(["sql", query, "--format", "json"], env)
    assert result.exit_code == 0, result.output
    costs = {r["team"]: Decimal(r["cost"]) if r["cost"] else None for r in json.loads(result.output)}
    assert costs == {"a": Decimal("396.46"), "b": Decimal("99.07"), "c": None, None: Decimal("480")}
    dedup = invoke(["sql", "SELECT count(*) AS n FROM usage", "--format", "csv"], env)
    assert dedup.output.splitlines()[1] == "10"

    focus = tmp_path / "focus.parquet"
    assert invoke(["export", "focus", "--month", "2026-11", "--out", str(focus)], env).exit_code == 0
    assert sum(pq.read_table(focus).column("BilledCost").to_pylist()) == hc.MONTH_TOTAL

    report = tmp_path / "report.html"
    assert invoke(["report", "--month", "2026-11", "--out", str(report)], env).exit_code == 0
    assert "975.53" in report.read_text()

    before = invoke(["sql", "SELECT * FROM usage_raw ORDER BY record_id, eh_sequence_number", "--format", "csv"], env)
    assert invoke(["compact", "--date", hc.DAY_A.isoformat()], env).exit_code == 0
    after = invoke(["sql", "SELECT * FROM usage_raw ORDER BY record_id, eh_sequence_number", "--format", "csv"], env)
    assert after.output == before.output
    hour = location.path("usage", f"event_date={hc.DAY_A}", "event_hour=09")
    from pyarrow.fs import FileSelector

    names = [i.base_name for i in location.filesystem.get_file_info(FileSelector(hour))]
    assert len(names) == 1 and names[0].startswith("compacted-")

    old = datetime.now(UTC) - timedelta(days=45)
    builder.payloads([payload_row("old", old)])
    assert invoke(["retention", "apply"], env).exit_code == 0
    remaining = invoke(["sql", "SELECT count(*) FROM payloads WHERE record_id = 'old'", "--format", "csv"], env)
    assert remaining.output.splitlines()[1] == "0"
    assert open_lake(location.url, env["CHARGEBACK_STORAGE_CONNECTION_STRING"]).exists()


def test_a_missing_container_is_a_clear_error(azurite):
    env = {"CHARGEBACK_STORAGE_CONNECTION_STRING": azurite.connection_string}
    result = invoke(["aggregate", "--date", "2026-11-10", "--lake", f"{azurite.blob_endpoint}/nothing/here"], env)
    assert result.exit_code == 4, result.output
    assert "no lake" in result.output
