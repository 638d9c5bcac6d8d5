"""`chargeback compact`: rewrite a closed day's many small consumer files into one large file per hour.

For each `<table>/event_date=D/event_hour=HH/` holding more than one file, the files are read with the table's
explicit schema and written as one `compacted-<digest>.parquet` (zstd, row groups of up to 1M rows) whose footer
lists the files it replaces; once it is complete, the sources are deleted. Rows are neither changed nor reordered
within a file, so every query over the table gives the same result.

What "atomic" means here: the compacted file appears in one step (written under a hidden temporary name, then
renamed locally or server-side copied on Blob: `LakeLocation.publish`). Between its appearance and the deletion of
the sources (milliseconds), raw views (`usage_raw`, `payloads`) could see both copies; the deduplicated `usage` view
and every roll-up dedupe by `record_id`, so they cannot. If the run dies in that window, the next run finds the
sources listed in the compacted file's footer and deletes them first: nothing is lost, nothing stays doubled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from aggregator.errors import DateRangeError
from aggregator.lakeio import ROW_GROUP_ROWS, is_dir
from schemas.arrow import TABLE_SCHEMAS
from schemas.lake import STREAM_TABLES, LakeLocation
from schemas.tags import fill_tags_json

COMPACTED_PREFIX = "compacted-"
SOURCES_KEY = b"chargeback.compacted_from"


@dataclass
class CompactResult:
    hours: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    repaired: list[str] = field(default_factory=list)


def _files(location: LakeLocation, directory: str) -> list[pafs.FileInfo]:
    infos = location.filesystem.get_file_info(pafs.FileSelector(directory))
    return sorted(
        (
            i
            for i in infos
            if i.type == pafs.FileType.File
            and i.base_name.endswith(".parquet")
            and not i.base_name.startswith((".", "_"))
        ),
        key=lambda i: i.base_name,
    )


def _hour_dirs(location: LakeLocation, table: str, day: date) -> list[str]:
    base = location.path(table, f"event_date={day.isoformat()}")
    if not is_dir(location, base):
        return []
    infos = location.filesystem.get_file_info(pafs.FileSelector(base))
    return sorted(i.path for i in infos if i.type == pafs.FileType.Directory and i.base_name.startswith("event_hour="))


def _repair(location: LakeLocation, files: list[pafs.FileInfo]) -> tuple[list[pafs.FileInfo], list[str]]:
    """Delete sources a previous compaction wrote out but did not get to delete."""
    names = {f.base_name: f for f in files}
    removed: list[str] = []
    for info in files:
        if not info.base_name.startswith(COMPACTED_PREFIX):
            continue
        metadata = pq.read_schema(info.path, filesystem=location.filesystem).metadata or {}
        for source in json.loads(metadata.get(SOURCES_KEY, b"[]")):
            if source in names and source != info.base_name:
                location.filesystem.delete_file(names.pop(source).path)
                removed.append(f"{info.path.rsplit('/', 1)[0]}/{source}")
    return [f for f in files if f.base_name in names], removed


def compact_hour(location: LakeLocation, table: str, directory: str, result: CompactResult) -> None:
    files, repaired = _repair(location, _files(location, directory))
    result.repaired.extend(repaired)
    result.hours += 1
    result.files_before += len(files)
    if len(files) <= 1:
        result.files_after += len(files)
        return
    fs = location.filesystem
    sources = [f.base_name for f in files]
    data = ds.dataset([f.path for f in files], schema=TABLE_SCHEMAS[table], format="parquet", filesystem=fs).to_table()
    if table == "usage":
        data = fill_tags_json(data)
    digest = hashlib.sha256("\n".join(sources).encode()).hexdigest()[:16]
    final = f"{directory}/{COMPACTED_PREFIX}{digest}.parquet"
    metadata = dict(TABLE_SCHEMAS[table].metadata or {}) | {SOURCES_KEY: json.dumps(sources).encode()}
    data = data.replace_schema_metadata(metadata)
    target = location.temporary_path(final)
    pq.write_table(data, target, filesystem=fs, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    if pq.read_metadata(target, filesystem=fs).num_rows != data.num_rows:
        fs.delete_file(target)
        raise OSError(f"compacted file {target} does not hold the {data.num_rows} rows written; sources kept")
    location.publish(target, final)
    for info in files:
        if info.path != final:
            fs.delete_file(info.path)
    result.files_after += 1
    result.rows += data.num_rows


def compact_day(
    location: LakeLocation,
    day: date,
    today: date,
    *,
    tables: tuple[str, ...] = STREAM_TABLES,
    on_hour: Callable[[str], None] | None = None,
) -> CompactResult:
    if day >= today:
        raise DateRangeError(f"{day} is not closed yet (today is {today} UTC): compact only past days")
    work = [(table, d) for table in tables for d in _hour_dirs(location, table, day)]
    result = CompactResult()
    for table, directory in work:
        compact_hour(location, table, directory, result)
        if on_hour:
            on_hour(directory)
    return result


def _hours_needing_compaction(location: LakeLocation, table: str, day: date) -> list[str]:
    """Hour directories of the day holding more than one data file (new files, or an interrupted run's leftovers).

    One recursive listing per table and day; an hour already compacted and unchanged (one file) is not opened."""
    base = location.path(table, f"event_date={day.isoformat()}")
    if not is_dir(location, base):
        return []
    counts: dict[str, int] = {}
    for info in location.filesystem.get_file_info(pafs.FileSelector(base, recursive=True)):
        if info.type != pafs.FileType.File or not info.base_name.endswith(".parquet"):
            continue
        if info.base_name.startswith((".", "_")):
            continue
        directory = info.path.rsplit("/", 1)[0]
        if directory.rsplit("/", 1)[-1].startswith("event_hour="):
            counts[directory] = counts.get(directory, 0) + 1
    return sorted(d for d, n in counts.items() if n > 1)


@dataclass
class PendingResult:
    """`compact` without --date: what each closed day of the look-back window got."""

    window: tuple[date, date]
    compacted: dict[date, CompactResult] = field(default_factory=dict)
    skipped: list[date] = field(default_factory=list)
    """Days with nothing to do (already compacted and unchanged, or no data)."""


def pending_hours(
    location: LakeLocation, today: date, lookback_days: int, tables: tuple[str, ...] = STREAM_TABLES
) -> dict[date, list[tuple[str, str]]]:
    """Closed days of the last `lookback_days` (yesterday back) -> (table, hour directory) that need compacting."""
    if lookback_days < 1:
        raise DateRangeError(f"the compaction look-back must be at least 1 day, not {lookback_days}")
    days = [today - timedelta(days=n) for n in range(lookback_days, 0, -1)]
    return {day: [(t, d) for t in tables for d in _hours_needing_compaction(location, t, day)] for day in days}


def compact_pending(
    location: LakeLocation,
    today: date,
    lookback_days: int,
    *,
    tables: tuple[str, ...] = STREAM_TABLES,
    on_hour: Callable[[str], None] | None = None,
    work: dict[date, list[tuple[str, str]]] | None = None,
) -> PendingResult:
    """Compact every closed day of the look-back window that needs it; idempotent (a second run does nothing)."""
    work = pending_hours(location, today, lookback_days, tables) if work is None else work
    result = PendingResult(window=(today - timedelta(days=lookback_days), today - timedelta(days=1)))
    for day, hours in sorted(work.items()):
        if day >= today:
            raise DateRangeError(f"{day} is not closed yet (today is {today} UTC): compact only past days")
        if not hours:
            result.skipped.append(day)
            continue
        day_result = CompactResult()
        for table, directory in hours:
            compact_hour(location, table, directory, day_result)
            if on_hour:
                on_hour(directory)
        result.compacted[day] = day_result
    return result


def hours_to_compact(location: LakeLocation, day: date, tables: tuple[str, ...] = STREAM_TABLES) -> int:
    return sum(len(_hour_dirs(location, t, day)) for t in tables)
