"""Reconciliation of the two usage sources: our usage records (`usage`) against APIM's LLM logs (`llm_log`).

One row per day x deployment in the derived table `reconciliation/date=YYYY-MM-DD/part-0.parquet` (replaced whole,
aggregator/lakeio.replace_partition). The rules, applied in DuckDB (`OUR_CALLS_SQL`, `LOG_CALLS_SQL`, `RECONCILE_SQL`):

- our calls of day D are the day's `usage` rows deduplicated by `record_id` (first enqueued wins, as in the roll-up);
- the log's calls are `llm_log` rows deduplicated by `record_id` over every log day read: the copy with the most
  `total_tokens` is kept (`SequenceNumber` splits a large message over rows; ties go to the earliest
  `time_generated`, then partition and sequence number) and the call is dated by its earliest copy;
- the log arrives after our record, so our call of day D matches the log call with its `record_id` dated D to
  D + W (W = `CHARGEBACK_LATE_DATA_DAYS`, at least 1); a log call dated D with no usage record dated D - W to D is
  an orphan of day D. Our calls are counted under our deployment, orphans under the log's;
- both have tokens when our `total_tokens` and the log's are not null; they differ when prompt, completion or total
  tokens differ, by the larger of |d prompt| + |d completion| and |d total| (a null difference counts 0).

A missing `llm_log` table means the source is not enabled: nothing is written (`reconcile_days` says so).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from aggregator.db import connect
from aggregator.lakeio import local_day_files, replace_partition, table_exists
from common.errors import DataCheckError
from common.logs import get_logger
from schemas.arrow import USAGE_SCHEMA
from schemas.lake import LakeLocation
from schemas.llm_log import LLM_LOG_SCHEMA

log = get_logger(__name__)

TABLE = "reconciliation"
KEY = "date"
LOG_TABLE = "llm_log"
ORDER = ("eh_enqueued_time", "eh_partition", "eh_sequence_number")
USAGE_COLUMNS = ("record_id", "deployment", "prompt_tokens", "completion_tokens", "total_tokens", "usage_source")
LOG_COLUMNS = ("record_id", "deployment", "prompt_tokens", "completion_tokens", "total_tokens", "time_generated")

RECONCILIATION_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("deployment", pa.string()),
        pa.field("calls_in_both", pa.int64(), nullable=False),
        pa.field("only_ours", pa.int64(), nullable=False),
        pa.field("only_log", pa.int64(), nullable=False),
        pa.field("tokens_differ", pa.int64(), nullable=False),
        pa.field("token_difference", pa.int64(), nullable=False),
        pa.field("stream_not_read", pa.int64(), nullable=False),
        pa.field("stream_not_read_tokens", pa.int64(), nullable=False),
        pa.field("log_duplicates", pa.int64(), nullable=False),
        pa.field("divergence", pa.float64()),
    ]
)

OUR_CALLS_SQL = f"""
CREATE TEMP TABLE our_calls AS
SELECT day, record_id, deployment, prompt_tokens, completion_tokens, total_tokens, usage_source
FROM usage_rows
QUALIFY row_number() OVER (PARTITION BY day, record_id ORDER BY {", ".join(ORDER)}) = 1
"""

LOG_CALLS_SQL = f"""
CREATE TEMP TABLE log_calls AS
SELECT
    record_id, deployment, prompt_tokens, completion_tokens, total_tokens,
    min(day) OVER (PARTITION BY record_id) AS log_day,
    count(*) OVER (PARTITION BY record_id) AS copies
FROM log_rows
QUALIFY row_number() OVER (
    PARTITION BY record_id ORDER BY total_tokens DESC NULLS LAST, time_generated, {", ".join(ORDER[1:])}) = 1
"""

RECONCILE_SQL = """
WITH calls AS (
    SELECT
        o.deployment,
        l.record_id IS NOT NULL AS in_log,
        TRUE AS in_ours,
        o.total_tokens IS NOT NULL AND l.total_tokens IS NOT NULL AS both_tokens,
        (o.prompt_tokens IS DISTINCT FROM l.prompt_tokens
            OR o.completion_tokens IS DISTINCT FROM l.completion_tokens
            OR o.total_tokens IS DISTINCT FROM l.total_tokens) AS tokens_distinct,
        greatest(
            coalesce(abs(o.prompt_tokens - l.prompt_tokens), 0)
                + coalesce(abs(o.completion_tokens - l.completion_tokens), 0),
            coalesce(abs(o.total_tokens - l.total_tokens), 0)) AS difference,
        o.usage_source = 'stream_not_read' AND o.total_tokens IS NULL AND l.total_tokens IS NOT NULL AS log_bills,
        l.total_tokens AS log_tokens,
        coalesce(l.copies, 1) - 1 AS duplicates
    FROM our_calls o
    LEFT JOIN log_calls l
        ON l.record_id = o.record_id AND l.log_day BETWEEN $day::DATE AND $day::DATE + $window::INTEGER
    WHERE o.day = $day::DATE
    UNION ALL
    SELECT l.deployment, TRUE, FALSE, FALSE, FALSE, 0, FALSE, NULL, l.copies - 1
    FROM log_calls l
    ANTI JOIN (
        SELECT record_id FROM our_calls WHERE day BETWEEN $day::DATE - $window::INTEGER AND $day::DATE
    ) o USING (record_id)
    WHERE l.log_day = $day::DATE
)
SELECT
    $day::DATE AS date,
    deployment,
    count(*) FILTER (WHERE in_ours AND in_log) AS calls_in_both,
    count(*) FILTER (WHERE in_ours AND NOT in_log) AS only_ours,
    count(*) FILTER (WHERE in_log AND NOT in_ours) AS only_log,
    count(*) FILTER (WHERE in_log AND both_tokens AND tokens_distinct) AS tokens_differ,
    coalesce(sum(difference) FILTER (WHERE in_log AND both_tokens AND tokens_distinct), 0) AS token_difference,
    count(*) FILTER (WHERE in_ours AND log_bills) AS stream_not_read,
    coalesce(sum(log_tokens) FILTER (WHERE in_ours AND log_bills), 0) AS stream_not_read_tokens,
    coalesce(sum(duplicates), 0) AS log_duplicates,
    CASE WHEN calls_in_both > 0 THEN tokens_differ / calls_in_both END AS divergence
FROM calls
GROUP BY deployment
ORDER BY deployment NULLS LAST
"""


@dataclass
class ReconcileResult:
    enabled: bool
    tables: dict[date, pa.Table] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def _day_rows(files_by_day: dict[date, list[str]], schema: pa.Schema, columns: tuple[str, ...]) -> pa.Table:
    """The days' rows (only `columns` plus the stream coordinates), with the partition's `day`."""
    wanted = pa.schema([schema.field(name) for name in (*columns, *ORDER)])
    parts = []
    for day, files in sorted(files_by_day.items()):
        table = ds.dataset(files, schema=wanted, format="parquet").to_table() if files else wanted.empty_table()
        parts.append(table.append_column("day", pa.array([day] * table.num_rows, pa.date32())))
    if not parts:
        return wanted.append(pa.field("day", pa.date32())).empty_table()
    return pa.concat_tables(parts)


def reconcile_day(usage: pa.Table, llm_log: pa.Table, day: date, window: int) -> pa.Table:
    """The reconciliation rows of `day` from usage rows of days D - window .. D and log rows of D - window ..
    D + window (each with its partition `day`). Pure: reads only its inputs."""
    con: duckdb.DuckDBPyConnection = connect()
    try:
        con.register("usage_rows", usage)
        con.register("log_rows", llm_log)
        con.execute(OUR_CALLS_SQL)
        con.execute(LOG_CALLS_SQL)
        rows = con.sql(RECONCILE_SQL, params={"day": day, "window": window}).to_arrow_table()
    finally:
        con.close()
    return rows.cast(RECONCILIATION_SCHEMA)


def match_window(late_data_days: int) -> int:
    return max(1, late_data_days)


def reconcile_days(location: LakeLocation, days: list[date], late_data_days: int) -> ReconcileResult:
    """Write `reconciliation/date=D` for each day; nothing at all when the lake has no `llm_log` table."""
    if not table_exists(location, LOG_TABLE):
        line = "llm_log table not found: the LLM-log source is not enabled, nothing reconciled"
        log.info("reconcile_skipped", reason="no llm_log table", lake=location.url)
        return ReconcileResult(enabled=False, lines=[line])
    window = match_window(late_data_days)
    result = ReconcileResult(enabled=True)
    for day in days:
        usage_days = [day - timedelta(days=i) for i in range(window, -1, -1)]
        log_days = [day + timedelta(days=i) for i in range(-window, window + 1)]
        with ExitStack() as stack:
            usage_files = {d: stack.enter_context(local_day_files(location, "usage", d)) for d in usage_days}
            log_files = {d: stack.enter_context(local_day_files(location, LOG_TABLE, d)) for d in log_days}
            usage = _day_rows(usage_files, USAGE_SCHEMA, USAGE_COLUMNS)
            llm_log = _day_rows(log_files, LLM_LOG_SCHEMA, LOG_COLUMNS)
        table = reconcile_day(usage, llm_log, day, window)
        replace_partition(location, TABLE, KEY, day.isoformat(), table)
        result.tables[day] = table
        totals = {name: sum(table.column(name).to_pylist()) for name in RECONCILIATION_SCHEMA.names[2:-1]}
        log.info("day_reconciled", day=day.isoformat(), deployments=table.num_rows, **totals)
        result.lines.append(
            f"{day}: {totals['calls_in_both']} calls in both, {totals['only_ours']} only ours, "
            f"{totals['only_log']} only in the log, {totals['tokens_differ']} with different tokens "
            f"({totals['token_difference']} tokens), {totals['stream_not_read']} billed from the log, "
            f"{totals['log_duplicates']} log duplicates"
        )
    return result


def check_divergence(tables: dict[date, pa.Table], max_divergence: float) -> None:
    """Raise DataCheckError naming the worst day x deployment whose divergence is over `max_divergence`."""
    over = [
        row
        for table in tables.values()
        for row in table.to_pylist()
        if row["divergence"] is not None and row["divergence"] > max_divergence
    ]
    if not over:
        return
    worst = max(over, key=lambda r: (r["divergence"], r["tokens_differ"], -r["date"].toordinal()))
    raise DataCheckError(
        f"reconciliation: {worst['date']} {worst['deployment'] or '(no deployment)'}: {worst['tokens_differ']} of "
        f"{worst['calls_in_both']} calls in both sources differ in tokens ({worst['divergence']:.2%} > "
        f"{max_divergence:.2%}, CHARGEBACK_RECONCILE_MAX_DIVERGENCE); {len(over)} day x deployment rows over"
    )


def reconcile_job(location: LakeLocation, days: list[date], late_data_days: int, max_divergence: float) -> list[str]:
    """Reconcile the days, then fail with the data-check code if a day x deployment diverges too much."""
    result = reconcile_days(location, days, late_data_days)
    check_divergence(result.tables, max_divergence)
    return result.lines
