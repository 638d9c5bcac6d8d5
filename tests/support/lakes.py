"""Environment makers for a lake and its checkpoints, local or on Azurite, and readers for what landed there.

`LakeEnv` is what `chargeback consume` / `aggregate` / `sql` need to find the lake (the same CHARGEBACK_* names the
Bicep sets); the `lake` fixture in tests/conftest.py builds one for the backend chosen by `--lake-backend`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.dataset as ds

from common.storage.location import open_location


@dataclass(frozen=True)
class LakeEnv:
    backend: str
    lake_url: str
    checkpoint_url: str
    storage_connection_string: str | None = None

    def env(self) -> dict[str, str]:
        out = {"CHARGEBACK_LAKE_URL": self.lake_url, "CHARGEBACK_CHECKPOINT_URL": self.checkpoint_url}
        if self.storage_connection_string:
            out["CHARGEBACK_STORAGE_CONNECTION_STRING"] = self.storage_connection_string
        return out


def local_lake(root: Path) -> LakeEnv:
    return LakeEnv("local", str(root / "lake"), str(root / "checkpoints"))


def blob_lake(azurite: Any, prefix: str = "") -> LakeEnv:
    """A lake and checkpoints on a running Azurite (`tests.support.azurite.Azurite`)."""
    base = azurite.blob_endpoint
    return LakeEnv(
        "blob",
        f"{base}/lake{prefix}",
        f"{base}/checkpoints{prefix}",
        storage_connection_string=azurite.connection_string,
    )


def table_dataset(lake_url: str, table: str, connection_string: str | None = None) -> ds.Dataset:
    """One stream table of the lake (Hive layout) as a pyarrow dataset, local or Blob."""
    location = open_location(lake_url, connection_string=connection_string)
    return ds.dataset(location.path(table), filesystem=location.filesystem, format="parquet", partitioning="hive")


def lake_column(lake_url: str, table: str, column: str, connection_string: str | None = None) -> list[Any]:
    """Every value of one column of one stream table, local or Blob."""
    return table_dataset(lake_url, table, connection_string).to_table(columns=[column]).column(0).to_pylist()


def lake_ids(lake_url: str, table: str, connection_string: str | None = None) -> list[str]:
    return lake_column(lake_url, table, "record_id", connection_string)


def duckdb_over_lake(
    lake_url: str, connection_string: str | None, tables: tuple[str, ...]
) -> duckdb.DuckDBPyConnection:
    """DuckDB with each named stream table loaded (an empty table with record_id/kind/reason if it has no files)."""
    location = open_location(lake_url, connection_string=connection_string)
    con = duckdb.connect()
    for table in tables:
        root = location.path(table)
        if location.filesystem.get_file_info(root).type.name == "NotFound":
            con.execute(f"CREATE TABLE {table} (record_id VARCHAR, kind VARCHAR, reason VARCHAR)")
            continue
        dataset = ds.dataset(root, filesystem=location.filesystem, format="parquet", partitioning="hive")
        con.register(f"{table}_ds", dataset)
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM {table}_ds")
    return con
