"""The one way the aggregator opens DuckDB: in memory, UTC, nothing else assumed."""

from __future__ import annotations

import duckdb


def connect(*, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con
