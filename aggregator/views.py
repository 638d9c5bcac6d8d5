"""A read-only DuckDB connection whose views are the lake's tables (local or Blob, through pyarrow datasets).

| view | what |
|---|---|
| `usage` | usage records, **deduplicated** by `record_id` (a redelivered record counts once) |
| `usage_raw` | usage records as stored, duplicates included |
| `payloads`, `dead_letters` | the other stream tables |
| `chargeback_daily`, `chargeback_monthly`, `unpriced`, `unmapped`, `ptu_allocation` | the roll-ups (`aggregate`) |
| `prices` | the price sheet in use (per 1M tokens) |
| `aggregation_runs` | one row per `chargeback aggregate` run: days, config files (location, sha256), row counts |
| `budget_status`, `alerts`, `budget_actions`, `notifications` | FinOps tables (finops/, schemas/finops.py) |

Stream tables carry `event_date` (DATE) and `event_hour` (INTEGER) from their Hive path: filter on them to read
only the partitions you need. A table that does not exist yet is an empty view with the right columns.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from aggregator.config_files import load_prices
from aggregator.db import connect
from aggregator.lakeio import STREAM_PARTITIONING, derived_dataset, stream_dataset, table_exists
from aggregator.runs import RUNS_TABLE, runs_dataset
from aggregator.settings import AggregatorSettings
from aggregator.tables import DERIVED_TABLES, derived_schemas
from schemas.arrow import TABLE_SCHEMAS
from schemas.finops import FINOPS_TABLES
from schemas.lake import LakeLocation

VIEWS = (
    "usage",
    "usage_raw",
    "payloads",
    "dead_letters",
    "chargeback_daily",
    "chargeback_monthly",
    "unpriced",
    "unmapped",
    "ptu_allocation",
    "prices",
    RUNS_TABLE,
    *FINOPS_TABLES,
)

DEDUP_VIEW = """
CREATE VIEW usage AS
SELECT * EXCLUDE (_copy) FROM (
    SELECT *, row_number() OVER (
        PARTITION BY event_date, record_id ORDER BY eh_enqueued_time, eh_partition, eh_sequence_number) AS _copy
    FROM usage_raw)
WHERE _copy = 1
"""


def _empty_stream(table: str) -> pa.Table:
    schema = TABLE_SCHEMAS[table]
    for field in STREAM_PARTITIONING.schema:
        schema = schema.append(field)
    return schema.empty_table()


def lake_sources(location: LakeLocation, settings: AggregatorSettings) -> dict[str, object]:
    """What each view reads (pyarrow datasets over the lake, the price sheet as a table), discovered once."""
    sources: dict[str, object] = {}
    for table in ("usage", "payloads", "dead_letters"):
        name = "usage_raw" if table == "usage" else table
        sources[name] = stream_dataset(location, table) if table_exists(location, table) else _empty_stream(table)
    schemas = derived_schemas()
    for table in DERIVED_TABLES:
        sources[table] = derived_dataset(location, table, schemas[table])
    sources[RUNS_TABLE] = runs_dataset(location)
    for table, (_key, schema) in FINOPS_TABLES.items():
        sources[table] = derived_dataset(location, table, schema)
    sources["prices"] = load_prices(settings)
    return sources


def attach_views(con: duckdb.DuckDBPyConnection, sources: dict[str, object], *, temporary: bool = False) -> None:
    """Register every source on `con` and create its view (plus the deduplicated `usage`).

    DuckDB's registered objects belong to one connection, and a cursor is another connection: a server gives
    each request a cursor and attaches the views to it as TEMP views.
    """
    kind = "TEMP VIEW" if temporary else "VIEW"
    for name, source in sources.items():
        con.register(f"_lake_{name}", source)
        con.execute(f"CREATE {kind} {name} AS SELECT * FROM _lake_{name}")
    con.execute(DEDUP_VIEW.replace("CREATE VIEW", f"CREATE {kind}", 1))


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """No file or network access from SQL, and no way to switch it back on."""
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def lake_connection(location: LakeLocation, settings: AggregatorSettings) -> duckdb.DuckDBPyConnection:
    """Every view registered, then external access switched off and the configuration locked: read-only."""
    con = connect()
    attach_views(con, lake_sources(location, settings))
    lock_down(con)
    return con
