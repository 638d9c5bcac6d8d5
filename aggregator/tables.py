"""Schemas of the derived tables, taken from the roll-up itself (run on no data), so they can never drift."""

from __future__ import annotations

from datetime import date
from functools import cache

import pyarrow as pa

from aggregator.deployments import DEPLOYMENTS_SCHEMA
from aggregator.prices import PRICES_SCHEMA
from aggregator.ptu import PtuConfig
from aggregator.rollup import roll_up_day, roll_up_month

DERIVED_TABLES: dict[str, str] = {
    "chargeback_daily": "date",
    "unpriced": "date",
    "unmapped": "date",
    "ptu_allocation": "date",
    "chargeback_monthly": "month",
}
"""Derived table -> its Hive key (`<table>/<key>=<value>/part-0.parquet`)."""


@cache
def derived_schemas() -> dict[str, pa.Schema]:
    tables = roll_up_day(
        [],
        date(2000, 1, 1),
        prices=PRICES_SCHEMA.empty_table(),
        deployments=DEPLOYMENTS_SCHEMA.empty_table(),
        ptu=PtuConfig(),
        team_tag="team",
    )
    schemas = {name: table.schema for name, table in tables.items()}
    schemas["chargeback_monthly"] = roll_up_month(tables["chargeback_daily"]).schema
    return schemas
