"""`chargeback reconcile` against a lake in Blob Storage (real Azurite): the hand-built day of the unit tests."""

from __future__ import annotations

from datetime import timedelta

import pyarrow.parquet as pq
import pytest

from schemas.lake import open_location
from tests.unit.aggregator.cli_app import invoke
from tests.unit.aggregator.pricing_fixture import env_for, write_config
from tests.unit.aggregator.test_reconcile import DAY, EXPECTED_DAY, build_day

pytestmark = pytest.mark.integration


def test_reconcile_on_a_blob_lake(azurite, tmp_path):
    url = f"{azurite.blob_endpoint}/chargeback/lake"
    location = open_location(url, connection_string=azurite.connection_string)
    location.ensure_root()
    build_day(location)
    env = env_for(write_config(tmp_path / "config", url, azurite.connection_string))
    env |= {"CHARGEBACK_LATE_DATA_DAYS": "1", "CHARGEBACK_RECONCILE_MAX_DIVERGENCE": "0.9"}
    days = ["--from", str(DAY - timedelta(days=1)), "--to", str(DAY + timedelta(days=1))]
    result = invoke(["reconcile", *days], env)
    assert result.exit_code == 0, result.output
    path = location.path("reconciliation", f"date={DAY}", "part-0.parquet")
    assert pq.read_table(path, filesystem=location.filesystem).to_pylist() == EXPECTED_DAY
    shown = invoke(["sql", "SELECT sum(only_log) AS orphans FROM reconciliation", "--format", "csv"], env)
    assert shown.exit_code == 0 and shown.output.splitlines()[1] == "1", shown.output
