"""Parquet files in the lake, named from stream coordinates so a replay rewrites the same objects.

`<table>/event_date=YYYY-MM-DD/event_hour=HH/<source>-<hub>-p<partition>-<first seq>-<last seq>.parquet`, zstd,
the explicit Arrow schemas of `schemas.arrow`. `<source>` (`usage`, or `llm_log` for APIM's LLM logs) keeps the two
hubs' files apart in the tables both write (`dead_letters`), whatever their hubs are called. Every file is written
under a hidden temporary name and published by the location (common/storage/location.py), so a reader never sees a
partial file at the final name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq

from consumer.retry import retry_forever
from consumer.rows import TableSource
from schemas.arrow import TABLE_SCHEMAS
from schemas.lake import LakeLocation, partition_dir

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


USAGE_SOURCE = "usage"
"""The usage hub's source name (the LLM-log hub's is consumer/llm_log.py's `SOURCE`)."""


def file_stem(source: str, hub: str, partition: str, first_sequence: int, last_sequence: int) -> str:
    """A source name holds no `-`, so the first `-` ends it and no two (source, hub) pairs give the same stem."""
    if not source or "-" in source or _UNSAFE.search(source):
        raise ValueError(f"source name {source!r} must be letters, digits, `_` or `.`")
    safe_hub, safe_partition = _UNSAFE.sub("_", hub), _UNSAFE.sub("_", partition)
    return f"{source}-{safe_hub}-p{safe_partition}-{first_sequence:020d}-{last_sequence:020d}"


@dataclass(frozen=True)
class WrittenFile:
    table: str
    path: str
    rows: int


class LakeWriter:
    def __init__(self, location: LakeLocation, *, row_group_size: int = 250_000) -> None:
        self.location = location
        self.row_group_size = row_group_size
        self._dirs: set[str] = set()

    def _ensure_dir(self, directory: str) -> None:
        if directory not in self._dirs:
            self.location.filesystem.create_dir(directory, recursive=True)
            self._dirs.add(directory)

    def write_file(self, table_name: str, hour: datetime, source: TableSource, stem: str) -> WrittenFile | None:
        schema = TABLE_SCHEMAS[table_name]
        pieces = iter([source]) if isinstance(source, pa.Table) else source()
        directory = partition_dir(self.location, table_name, hour)
        path = f"{directory}/{stem}.parquet"
        fs = self.location.filesystem
        target = self.location.temporary_path(path)
        rows = 0
        writer: pq.ParquetWriter | None = None
        try:
            for piece in pieces:
                if piece.num_rows == 0:
                    continue
                if not piece.schema.equals(schema):
                    piece = piece.cast(schema)
                if writer is None:
                    self._ensure_dir(directory)
                    writer = pq.ParquetWriter(target, schema, filesystem=fs, compression="zstd", write_statistics=True)
                writer.write_table(piece, row_group_size=self.row_group_size)
                rows += piece.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            return None
        self.location.publish(target, path)
        return WrittenFile(table_name, path, rows)

    async def write(
        self,
        tables: dict[str, dict[datetime, TableSource]],
        stem: str,
        *,
        on_failure: Callable[[], None] | None = None,
    ) -> list[WrittenFile]:
        """Write every (table, hour) of one batch; each file is retried until storage takes it."""
        written = []
        for table_name, by_hour in tables.items():
            for hour, source in by_hour.items():
                result = await retry_forever(
                    lambda t=table_name, h=hour, src=source: self.write_file(t, h, src, stem),
                    on_failure=on_failure,
                )
                if result is not None:
                    written.append(result)
        return written
