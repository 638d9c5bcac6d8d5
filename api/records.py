"""Pages of usage records in `(event_time, record_id)` order, read one hour partition at a time.

The `usage` view deduplicates a whole day with a window function, which is seconds per request on a day of
millions of rows. A page needs far less: the lake is partitioned by event hour and every record of hour `h` has its
`event_time` in that hour, so the pager walks the hour partitions in order from the cursor's hour and, in each,
takes the next keys with a top-N query on the key columns only, then reads the full rows of just those records.

Redelivered copies of a record are identical and share `(event_time, record_id)`: they are adjacent in this order
and the first-enqueued copy is kept, the rule of the `usage` view.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import duckdb
import pyarrow.fs as pafs

from api.queries import Where
from schemas.lake import LakeLocation

COPY_ORDER = "eh_enqueued_time, eh_partition, eh_sequence_number"


def hours_with_data(location: LakeLocation, start: date, end: date) -> Iterator[tuple[date, int]]:
    """The (day, hour) partitions of `usage` that exist between two days, in order (a directory listing)."""
    day = start
    while day <= end:
        directory = location.path("usage", f"event_date={day.isoformat()}")
        info = location.filesystem.get_file_info(directory)
        if info.type == pafs.FileType.Directory:
            hours = []
            for entry in location.filesystem.get_file_info(pafs.FileSelector(directory)):
                name = entry.base_name
                if entry.type == pafs.FileType.Directory and name.startswith("event_hour="):
                    try:
                        hours.append(int(name.split("=", 1)[1]))
                    except ValueError:
                        continue
            for hour in sorted(hours):
                yield day, hour
        day += timedelta(days=1)


def page(
    cursor: duckdb.DuckDBPyConnection,
    location: LakeLocation,
    *,
    start: date,
    end: date,
    where: Where,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, object]]:
    """Up to `limit + 1` deduplicated records after `after`, oldest first (the extra one says there is more)."""
    wanted = limit + 1
    found: list[dict[str, object]] = []
    first_day = max(start, after[0].date()) if after else start
    for day, hour in hours_with_data(location, first_day, end):
        if after and (day, hour) < (after[0].date(), after[0].hour):
            continue
        found.extend(_hour_page(cursor, day, hour, where, after, wanted - len(found)))
        if len(found) >= wanted:
            break
    return found[:wanted]


def _hour_page(
    cursor: duckdb.DuckDBPyConnection,
    day: date,
    hour: int,
    where: Where,
    after: tuple[datetime, str] | None,
    wanted: int,
) -> list[dict[str, object]]:
    """The next `wanted` records of one hour partition: first the time window that holds them (a top-N on
    `event_time` alone, which the Parquet statistics make cheap), then every row of that window, in order."""
    params = dict(where.params) | {"p_day": day, "p_hour": hour}
    conditions = [where.sql(), "event_date = $p_day", "event_hour = $p_hour"]
    if after:
        conditions.append("event_time >= $after_time AND (event_time, record_id) > ($after_time, $after_id)")
        params |= {"after_time": after[0], "after_id": after[1]}
    condition = " AND ".join(conditions)
    fetch = wanted * 2
    while True:
        times = cursor.sql(
            f"SELECT event_time FROM usage_raw WHERE {condition} ORDER BY event_time LIMIT {int(fetch)}",
            params=params,
        ).to_arrow_table()
        if times.num_rows == 0:
            return []
        last = times.column("event_time")[-1].as_py()
        rows = cursor.sql(
            f"SELECT * EXCLUDE (tags_json) FROM usage_raw WHERE {condition} AND event_time <= $p_last "
            f"ORDER BY event_time, record_id, {COPY_ORDER}",
            params=params | {"p_last": last},
        ).to_arrow_table()
        found: list[dict[str, object]] = []
        previous = None
        for row in rows.to_pylist():
            key = (row["event_time"], row["record_id"])
            if key != previous:  # a redelivered copy follows its original: keep the first enqueued
                found.append(row)
                previous = key
        if len(found) >= wanted or times.num_rows < fetch:
            return found[:wanted]
        fetch *= 4
