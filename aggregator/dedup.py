"""Deduplication of one day's usage rows by `record_id`, without ranking (or hashing into a table) every row.

Duplicates are rare (redeliveries), so the work is split by cost:

1. one 64-bit hash per row (`hash(record_id)` in DuckDB), sorted in numpy: equal neighbours are the only ids that
   can be duplicated. Sorting 10M integers takes ~0.2 s; a 10M-group hash aggregate in DuckDB takes 1.5-3 s;
2. only the rows whose hash is one of those are ranked exactly, by the id itself (a hash collision between two
   different ids therefore costs a few extra rows in the ranking and never merges them): per `record_id`, the row
   first enqueued wins (lowest `eh_enqueued_time`, then `eh_partition`, then `eh_sequence_number`, then its place
   in the day's sorted file list, so even exact copies of one event resolve the same way every time);
3. the losing copies leave as a set of row keys (file index << 32 | row number in the file) that the roll-up
   anti-joins; with no duplicates at all there is nothing to join.

A record replayed after a repartition lands in another partition: it is still one `record_id`, so it is still
deduplicated (nothing here assumes that copies share a partition or a file).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

ROW_KEY = "row_key"
"""Column of `day_rows` naming a row of the day: file index << 32 | row number within that file."""

EXTRA_COPIES_SQL = f"""
SELECT {ROW_KEY} FROM day_rows
WHERE hash(record_id) IN (SELECT id_hash FROM duplicated_hashes)
QUALIFY row_number() OVER (
    PARTITION BY record_id ORDER BY eh_enqueued_time, eh_partition, eh_sequence_number, {ROW_KEY}) > 1
"""


def duplicated_hashes(hashes: np.ndarray) -> np.ndarray:
    """The distinct values that occur more than once in `hashes`."""
    ordered = np.sort(hashes)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    return np.unique(repeated)


def extra_copies(con: duckdb.DuckDBPyConnection) -> pa.Table | None:
    """Row keys of every copy that loses to an earlier one in `day_rows`, or None when no id occurs twice."""
    column = con.sql("SELECT hash(record_id) AS id_hash FROM day_rows").to_arrow_table().column("id_hash")
    if len(column) < 2:
        return None
    repeated = duplicated_hashes(column.to_numpy())
    del column
    if len(repeated) == 0:
        return None
    con.register("duplicated_hashes", pa.table({"id_hash": pa.array(repeated, pa.uint64())}))
    try:
        return con.sql(EXTRA_COPIES_SQL).to_arrow_table()
    finally:
        con.unregister("duplicated_hashes")
