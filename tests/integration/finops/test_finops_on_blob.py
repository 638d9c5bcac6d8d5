"""Budgets, alerts and enforcement on a Blob lake with the budgets file in Blob Storage (real Azurite), as the Bicep
wires them: the FinOps tables are written beside the roll-ups and read back through `chargeback sql`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from azure.storage.blob import BlobServiceClient

from aggregator.aggregate import aggregate_days
from aggregator.lakeio import open_lake
from common.storage.credentials import EMULATOR_API_VERSION
from schemas.lake import open_location
from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row
from tests.unit.aggregator.pricing_fixture import write_config
from tests.unit.finops.month import FIRST

pytestmark = pytest.mark.integration

BUDGETS = (
    "budget_id,scope,period,amount,unit,thresholds,action,effective_from,effective_to,protected\n"
    "a,team=a,month,1,USD,50/100,suspend,,,\n"
)


def test_budgets_from_a_blob_file_on_a_blob_lake(azurite, invoke, tmp_path):
    lake_url = f"{azurite.blob_endpoint}/chargeback/lake"
    location = open_location(lake_url, connection_string=azurite.connection_string)
    location.ensure_root()
    days = [FIRST]  # one day: the roll-up on Azurite is the slow part
    LakeBuilder(location).usage(
        [
            usage_row(when=datetime(d.year, d.month, d.day, 10, i, tzinfo=UTC), prompt=200_000, completion=20_000)
            for d in days
            for i in range(2)
        ]
    )
    settings = write_config(tmp_path / "config", lake_url, azurite.connection_string)
    aggregate_days(open_lake(lake_url, azurite.connection_string), days, settings)
    service = BlobServiceClient.from_connection_string(azurite.connection_string, api_version=EMULATOR_API_VERSION)
    config = service.get_container_client("config")
    config.create_container()
    config.upload_blob("budgets.csv", BUDGETS.encode())
    env = {
        "CHARGEBACK_LAKE_URL": lake_url,
        "CHARGEBACK_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "CHARGEBACK_PRICE_SHEET": str(settings.price_sheet),
        "CHARGEBACK_BUDGETS_CONFIG": f"{azurite.blob_endpoint}/config/budgets.csv",
    }
    as_of = days[-1].isoformat()
    for command in (["budgets", "evaluate"], ["alerts", "evaluate"], ["budgets", "enforce"]):
        result = invoke([*command, "--as-of", as_of], env)
        assert result.exit_code == 0, result.output

    def sql(query: str) -> list[dict]:
        result = invoke(["sql", query, "--format", "json"], env)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    (status,) = sql("SELECT spend, crossed, config_digest FROM budget_status")
    # gpt-4.1 at 2.00 / 8.00 per 1M tokens: 0.40 + 0.16 = 0.56 a call, two calls
    assert status["spend"] == "1.12000000000000" and status["crossed"] == [50, 100]
    assert status["config_digest"] == "sha256:" + hashlib.sha256(BUDGETS.encode()).hexdigest()
    assert sql("SELECT action, target, outcome FROM budget_actions") == [
        {"action": "suspend", "target": "sub-1", "outcome": "planned"}
    ]
    missing = invoke(
        ["budgets", "check"], env | {"CHARGEBACK_BUDGETS_CONFIG": f"{azurite.blob_endpoint}/config/no.csv"}
    )
    assert missing.exit_code == 3 and "does not exist" in missing.output
