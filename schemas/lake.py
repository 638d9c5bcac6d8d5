"""How the lake is laid out: the contract between the consumer (writer) and the aggregator.

Where the lake is (a local directory or a Blob container URL, and the credential that reaches it) is read once by
`common.storage.open_location`; this module holds only the layout under that location:
`<table>/event_date=YYYY-MM-DD/event_hour=HH/<file>.parquet` for the stream tables (`usage`, `payloads`,
`dead_letters`, and `llm_log` when the LLM-log source is on); derived tables live beside them under their own names.
"""

from __future__ import annotations

from datetime import datetime

from common.storage.location import Location, open_location

STREAM_TABLES: tuple[str, ...] = ("usage", "payloads", "dead_letters", "llm_log")

LakeLocation = Location
"""The lake is a storage location like any other; the name stays for the stages' type hints."""


def table_root(location: Location, table: str) -> str:
    return location.path(table)


def partition_dir(location: Location, table: str, moment: datetime) -> str:
    """The Hive directory of a stream table's hour. The year is always four digits (`%Y` gives `2` for year 2 on
    glibc, and one such directory turns DuckDB's `event_date` into text for the whole lake)."""
    return location.path(table, f"event_date={moment.year:04d}-{moment:%m-%d}", f"event_hour={moment:%H}")


__all__ = ["STREAM_TABLES", "LakeLocation", "open_location", "partition_dir", "table_root"]
