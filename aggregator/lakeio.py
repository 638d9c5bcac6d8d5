"""Reading and writing the lake through common.storage (pyarrow file systems): the aggregator's only door to storage.

Stream tables (written by the consumer) are read as pyarrow datasets over the Hive layout
`<table>/event_date=YYYY-MM-DD/event_hour=HH/*.parquet`. Derived tables are written one file per partition,
`<table>/<key>=<value>/part-0.parquet`, replaced whole: written under a hidden temporary name, then published under
the final name by `Location.write_parquet` (common/storage/location.py), so a reader sees the old file or the whole
new one, never an empty or partial one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from aggregator.errors import CorruptLakeFileError, LakeNotFoundError
from common.redact import describe
from common.storage import StorageUnavailableError
from schemas.arrow import TABLE_SCHEMAS
from schemas.lake import LakeLocation, open_location, table_root

PART_FILE = "part-0.parquet"
ROW_GROUP_ROWS = 1_000_000
STREAM_PARTITIONING = ds.partitioning(
    pa.schema([pa.field("event_date", pa.date32()), pa.field("event_hour", pa.int32())]), flavor="hive"
)


def open_lake(url: str | None, connection_string: str | None = None, *, must_exist: bool = True) -> LakeLocation:
    """Open the lake, or say plainly why not: no URL, a malformed URL (exit 3), no usable credential or storage
    unreachable (exit 5, checked in Python before pyarrow's native Azure code runs), nothing there (exit 4)."""
    if not url:
        raise LakeNotFoundError("no lake given: pass --lake or set CHARGEBACK_LAKE_URL")
    location = open_location(url, connection_string=connection_string)
    if must_exist:
        try:
            exists = location.exists()
        except OSError as exc:
            raise StorageUnavailableError(f"cannot reach the lake at {location.url}: {describe(exc)}") from None
        if not exists:
            raise LakeNotFoundError(f"no lake at {location.url}")
    return location


def is_dir(location: LakeLocation, path: str) -> bool:
    return location.filesystem.get_file_info(path).type == pafs.FileType.Directory


def table_exists(location: LakeLocation, table: str) -> bool:
    return is_dir(location, table_root(location, table))


def _parquet_files(location: LakeLocation, base: str) -> list[str]:
    if not is_dir(location, base):
        return []
    infos = location.filesystem.get_file_info(pafs.FileSelector(base, recursive=True))
    files = []
    for info in infos:
        if info.type != pafs.FileType.File or not info.base_name.endswith(".parquet"):
            continue
        relative = info.path[len(base) :].strip("/")
        if any(part.startswith((".", "_")) for part in relative.split("/")):
            continue
        files.append(info.path)
    return sorted(files)


def stream_day_files(location: LakeLocation, table: str, day: date) -> list[str]:
    return _parquet_files(location, location.path(table, f"event_date={day.isoformat()}"))


@contextmanager
def local_day_files(location: LakeLocation, table: str, day: date) -> Iterator[list[str]]:
    """One day of a stream table as local Parquet files, sorted by their lake path, for DuckDB's own reader.

    A local lake gives its files as they are; from Blob Storage they are downloaded whole into a temporary directory
    (removed afterwards): DuckDB reads local Parquet faster than a pyarrow dataset scan, and a day of usage is small
    next to that saving (bench/README.md).
    """
    paths = stream_day_files(location, table, day)
    with location.local_copies(paths) as files:
        for path, file in zip(paths, files, strict=True):
            check_parquet_footer(path, file)
        yield files


def check_parquet_footer(path: str, local: str) -> None:
    """A `CorruptLakeFileError` (exit 6) naming the lake file `path` when its local copy `local` has no readable
    Parquet footer: a day's totals are never computed from the files that happen to be readable."""
    try:
        pq.read_metadata(local)
    except (pa.ArrowInvalid, OSError) as exc:
        raise CorruptLakeFileError(
            f"{path}: not readable Parquet ({describe(exc)}); move it out of the lake and run again"
        ) from None


def stream_dataset(location: LakeLocation, table: str) -> ds.Dataset:
    """A whole stream table with `event_date` (date) and `event_hour` (int) from the Hive path."""
    base = table_root(location, table)
    schema = TABLE_SCHEMAS[table]
    for field in STREAM_PARTITIONING.schema:
        schema = schema.append(field)
    files = _parquet_files(location, base)
    return ds.dataset(
        files,
        schema=schema,
        format="parquet",
        filesystem=location.filesystem,
        partitioning=STREAM_PARTITIONING,
        partition_base_dir=base,
    )


def derived_files(location: LakeLocation, table: str) -> list[str]:
    return _parquet_files(location, table_root(location, table))


def derived_dataset(location: LakeLocation, table: str, schema: pa.Schema) -> ds.Dataset:
    """A derived table (`<table>/<key>=<value>/part-0.parquet`); the key is a column of the files themselves."""
    return ds.dataset(derived_files(location, table), schema=schema, format="parquet", filesystem=location.filesystem)


def partition_dir(location: LakeLocation, table: str, key: str, value: str) -> str:
    return location.path(table, f"{key}={value}")


def replace_partition(location: LakeLocation, table: str, key: str, value: str, data: pa.Table) -> str:
    """Replace one partition of a derived table with `data` (possibly empty), as one file; see the module doc."""
    fs = location.filesystem
    directory = partition_dir(location, table, key, value)
    fs.create_dir(directory, recursive=True)
    final = f"{directory}/{PART_FILE}"
    location.write_parquet(data, final, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    for info in fs.get_file_info(pafs.FileSelector(directory)):
        if info.type == pafs.FileType.File and info.path != final and not info.base_name.startswith("."):
            fs.delete_file(info.path)
    return final


def partition_values(location: LakeLocation, table: str, key: str) -> list[str]:
    """Sorted values of a table's first Hive key (`event_date` of a stream table, `date` of a derived one)."""
    base = table_root(location, table)
    if not is_dir(location, base):
        return []
    values = []
    for info in location.filesystem.get_file_info(pafs.FileSelector(base)):
        name = info.base_name
        if info.type == pafs.FileType.Directory and name.startswith(f"{key}="):
            values.append(name.split("=", 1)[1])
    return sorted(values)


def delete_dir(location: LakeLocation, path: str) -> None:
    location.filesystem.delete_dir(path)
