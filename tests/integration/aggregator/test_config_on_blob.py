"""Configuration files in Blob Storage (real Azurite), as the Bicep passes them: read with the lake's credential
rules, used by the roll-up, and recorded with their digests in `aggregation_runs` (issue 12, item 2)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from azure.storage.blob import BlobServiceClient

from common.storage.credentials import EMULATOR_API_VERSION
from schemas.lake import open_location
from tests.unit.aggregator import handcomputed as hc
from tests.unit.aggregator.cli_app import invoke
from tests.unit.aggregator.lake_builder import LakeBuilder
from tests.unit.aggregator.pricing_fixture import DEPLOYMENTS, PTU, SHEET, TEAMS

pytestmark = pytest.mark.integration


def test_config_files_from_blob_price_the_month_and_are_recorded(azurite):
    lake_url = f"{azurite.blob_endpoint}/chargeback/lake"
    location = open_location(lake_url, connection_string=azurite.connection_string)
    location.ensure_root()
    hc.build(LakeBuilder(location))
    service = BlobServiceClient.from_connection_string(azurite.connection_string, api_version=EMULATOR_API_VERSION)
    config = service.get_container_client("config")
    config.create_container()
    urls = {}
    for name, text in (
        ("prices.csv", SHEET),
        ("deployments.csv", DEPLOYMENTS),
        ("ptu.json", PTU),
        ("teams.csv", TEAMS),
    ):
        config.upload_blob(f"finops/{name}", text.encode())
        urls[name] = f"{azurite.blob_endpoint}/config/finops/{name}"
    env = {
        "CHARGEBACK_LAKE_URL": lake_url,
        "CHARGEBACK_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "CHARGEBACK_PRICE_SHEET": urls["prices.csv"],
        "CHARGEBACK_DEPLOYMENTS_CONFIG": urls["deployments.csv"],
        "CHARGEBACK_PTU_CONFIG": urls["ptu.json"],
        "CHARGEBACK_TEAMS_CONFIG": urls["teams.csv"],
    }
    for day in (hc.DAY_A, hc.DAY_B):
        result = invoke(["aggregate", "--date", day.isoformat()], env)
        assert result.exit_code == 0, result.output

    query = "SELECT team, sum(total_cost) AS cost FROM chargeback_daily WHERE date = ? GROUP BY team"
    rows = invoke(["sql", query.replace("?", f"'{hc.DAY_A}'"), "--format", "json"], env)
    costs = {r["team"]: Decimal(r["cost"]) for r in json.loads(rows.output) if r["cost"] is not None}
    assert costs["a"] == hc.TEAM_DAY_COST[(hc.DAY_A, "a")], "priced with the sheet and teams map read from Blob"

    runs = invoke(["sql", "SELECT * FROM aggregation_runs ORDER BY started_at", "--format", "json"], env)
    first, second = json.loads(runs.output)
    assert first["price_sheet_location"] == urls["prices.csv"]
    assert first["price_sheet_sha256"] == hashlib.sha256(SHEET.encode()).hexdigest()
    assert {f["location"] for f in second["config_files"]} == set(urls.values())
    assert first["days"] == [hc.DAY_A.isoformat()] and second["days"] == [hc.DAY_B.isoformat()]
