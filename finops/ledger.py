"""What the FinOps stage reads from the lake: through the aggregator's own read-only DuckDB views, nothing else.

`open_ledger` opens the lake and gives `aggregator.views.lake_connection` (roll-ups, deduplicated usage, dead
letters, and the FinOps tables themselves). Scope filters are SQL over `chargeback_daily` columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa

from aggregator.lakeio import open_lake, replace_partition
from aggregator.settings import AggregatorSettings
from aggregator.views import lake_connection
from common.configuration import load_settings
from finops.budgets_file import Scope
from finops.settings import FinopsSettings
from schemas.finops import FINOPS_TABLES
from schemas.lake import LakeLocation


def today_utc() -> date:
    return datetime.now(UTC).date()


def default_as_of() -> date:
    """Yesterday (UTC): the last day the nightly roll-up has aggregated."""
    return today_utc() - timedelta(days=1)


def is_provisional(day: date, today: date, late_data_days: int) -> bool:
    """A day the next roll-ups still re-aggregate (yesterday and `late_data_days` before it) may still change."""
    return day >= today - timedelta(days=1 + late_data_days)


def open_location(settings: FinopsSettings, lake: str | None) -> LakeLocation:
    return open_lake(lake or settings.lake_url, settings.storage_connection)  # no lake: exit 4, one line


@contextmanager
def ledger(location: LakeLocation) -> Iterator[duckdb.DuckDBPyConnection]:
    con = lake_connection(location, load_settings(AggregatorSettings, what="aggregator configuration"))
    try:
        yield con
    finally:
        con.close()


def scope_filter(scope: Scope) -> tuple[str, dict[str, object]]:
    """SQL condition on `chargeback_daily` (or `_monthly`) columns and its named parameters."""
    if scope.kind == "all":
        return "TRUE", {}
    column = {"team": "team", "subscription": "subscription_id", "product": "product_id", "deployment": "deployment"}
    if scope.kind in column:
        return f"{column[scope.kind]} = $scope_value", {"scope_value": scope.value}
    return "json_extract_string(tags, $tag_path) = $scope_value", {
        "tag_path": f'$."{scope.tag_key}"',
        "scope_value": scope.value,
    }


def write_partition(location: LakeLocation, table: str, value: str, rows: list[dict]) -> None:
    key, schema = FINOPS_TABLES[table]
    replace_partition(location, table, key, value, pa.Table.from_pylist(rows, schema=schema))
