"""Parquet files in the lake, named from stream coordinates so a replay rewrites the same objects.

`<table>/event_date=YYYY-MM-DD/event_hour=HH/<hub>-p<partition>-<first seq>-<last seq>.parquet`, zstd, the
explicit Arrow schemas of `schemas.arrow`. Local files are written under a temporary name and renamed; a Blob
is committed whole when its stream closes, so a reader never sees half a file either way.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from consumer.retry import retry_forever
from consumer.rows import HourTables
from schemas.arrow import TABLE_SCHEMAS
from schemas.lake import LakeLocation

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def file_stem(hub: str, partition: str, first_sequence: int, last_sequence: int) -> str:
    return f"{_UNSAFE.sub('_', hub)}-p{_UNSAFE.sub('_', partition)}-{first_sequence:020d}-{last_sequence:020d}"


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

    def write_file(self, table_name: str, hour_table: tuple[object, pa.Table], stem: str) -> WrittenFile:
        hour, table = hour_table
        schema = TABLE_SCHEMAS[table_name]
        if not table.schema.equals(schema):
            table = table.cast(schema)
        directory = self.location.partition_dir(table_name, hour)  # type: ignore[arg-type]
        self._ensure_dir(directory)
        path = f"{directory}/{stem}.parquet"
        fs = self.location.filesystem
        target = f"{path}.tmp-{uuid.uuid4().hex}" if self.location.is_local else path
        pq.write_table(
            table,
            target,
            filesystem=fs,
            compression="zstd",
            row_group_size=self.row_group_size,
            write_statistics=True,
        )
        if target != path:
            fs.move(target, path)
        return WrittenFile(table_name, path, table.num_rows)

    async def write(
        self, tables: dict[str, HourTables], stem: str, *, on_failure: Callable[[], None] | None = None
    ) -> list[WrittenFile]:
        """Write every (table, hour) of one batch; each file is retried until storage takes it."""
        written = []
        for table_name, by_hour in tables.items():
            for hour, table in by_hour.items():
                if table.num_rows == 0:
                    continue
                written.append(
                    await retry_forever(
                        lambda t=table_name, h=hour, tb=table: self.write_file(t, (h, tb), stem),
                        on_failure=on_failure,
                    )
                )
        return written
