"""One day's roll-up: deduplicate, decide who pays, aggregate tokens per chargeback key, then price the aggregates.

Steps, all in DuckDB over the day's local Parquet files (its own reader: projected, multi-threaded):
1. deduplicate by `record_id` (the row first enqueued wins: lowest `eh_enqueued_time`, then partition, then
   sequence number; aggregator/dedup.py). Only the few ids seen more than once are ranked; every other row
   passes untouched;
2. decide each row's team from its APIM subscription and product through the attribution map (aggregator/teams.py;
   the team tag header only chooses among a shared subscription's listed teams), and read the configured tag
   dimensions, validated (aggregator/dimensions.py);
3. aggregate counters and token classes per subscription x product x team x attribution x dimensions x deployment
   x model x region x token split (records without a prompt/completion split are their own groups), then cap each
   dimension's values per day and merge;
4. resolve each deployment's type and region (deployments map; PTU config makes a deployment provisioned);
5. join the price row in force on that day (exact model before the model without its date suffix, exact region
   before `*`), and compute costs as DECIMAL (no floating point anywhere);
6. allocate PTU cost by token share (aggregator/ptu.py).

Token classes (schemas/README.md section 4): prompt_tokens INCLUDES cached_tokens, completion_tokens INCLUDES
reasoning_tokens. So: input cost = (prompt - cached) x input price; cached cost = cached x cached price (input price
if the model has none); output cost = completion x output price; `reasoning_cost` is the part of the output cost
that reasoning tokens account for (already in `output_cost`, shown, not added).

Unpriced means NULL: a row that cannot be priced has NULL costs (token, PTU and total), never 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from aggregator.db import connect
from aggregator.dedup import ROW_KEY, extra_copies
from aggregator.dimensions import INVALID, OVERFLOW, TagDimensions, tag_value_sql, tags_json_sql, validated_sql
from aggregator.money import COST_SQL
from aggregator.ptu import PTU_ALLOCATION_SCHEMA, PtuConfig, allocate_ptu, ptu_today_table
from aggregator.queries import load
from aggregator.teams import TeamsMap, attribution_table, directory_table
from schemas.arrow import USAGE_SCHEMA
from schemas.tags import TAGS_JSON

COST_TYPE = COST_SQL
"""Kept for callers of the old name; the types live in aggregator/money.py."""

ROLLUP_COLUMNS = (
    "record_id",
    "status_code",
    "deployment",
    "model",
    "region",
    "subscription_id",
    "subscription_name",
    "product_id",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "total_tokens",
    "eh_enqueued_time",
    "eh_partition",
    "eh_sequence_number",
    TAGS_JSON,
)
"""The only usage columns the roll-up reads (DuckDB pushes the projection into its Parquet reader). Files written
before `tags_json` existed are read with the tags map in its place (`day_rows_sql`)."""


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def day_rows_sql(files: Sequence[str], *, with_tags_json: bool = True) -> str:
    """The day's rows, read by DuckDB's own Parquet reader (projected, multi-threaded), each with its row key.

    Without `with_tags_json` (some file predates the column) the tags map stands in for `tags_json`, and tag values
    are read from the map (`dimensions.tag_value_sql(legacy=True)`)."""
    columns = ", ".join(ROLLUP_COLUMNS if with_tags_json else (*ROLLUP_COLUMNS[:-1], f"tags AS {TAGS_JSON}"))
    if not files:
        return f"SELECT {columns}, NULL::UBIGINT AS {ROW_KEY} FROM empty_usage"
    listed = ", ".join(_sql_string(f) for f in files)
    return (
        f"SELECT {columns}, (file_index::UBIGINT << 32) | file_row_number::UBIGINT AS {ROW_KEY} "
        f"FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"
    )


def all_have_tags_json(files: Sequence[str]) -> bool:
    """Whether every file carries `tags_json` (one footer read per file; local files)."""
    return all(TAGS_JSON in pq.read_schema(f).names for f in files)


ATTRIBUTION_SQL = """
CASE WHEN m.map_team IS NULL THEN NULL
     WHEN list_contains(m.shared_teams, r.claimed) THEN r.claimed
     ELSE m.map_team END AS team,
CASE WHEN m.map_team IS NULL THEN 'unmapped'
     WHEN list_contains(m.shared_teams, r.claimed) THEN 'header'
     WHEN len(m.shared_teams) > 0 AND r.claimed IS NOT NULL THEN 'header_rejected'
     ELSE 'mapped' END AS attribution,
m.map_cost_center, m.map_owner"""
"""The team decision (aggregator/teams.py): the map row of the caller's APIM subscription/product decides; the team
tag header only chooses among a shared subscription's listed teams."""


def raw_grouped_sql(team_tag: str, dimensions: TagDimensions, *, legacy: bool, dedup: str) -> str:
    """Aggregate the day's rows per APIM identity x decided team x dimension values x deployment x model x region x
    token split. Records with only `total_tokens` (no split) form their own groups, so they leave only their own
    tokens unpriced."""
    claimed = tag_value_sql(team_tag, legacy=legacy)
    dims = ", ".join(f"{validated_sql(tag_value_sql(k, legacy=legacy))} AS d{i}" for i, k in enumerate(dimensions.keys))
    dim_columns = "".join(f"r.d{i}, " for i in range(len(dimensions.keys)))
    return f"""
WITH r AS (
    SELECT d.*, nullif(trim({claimed}), '') AS claimed,
        {dims + "," if dims else ""}
        (d.prompt_tokens IS NULL AND d.completion_tokens IS NULL AND d.total_tokens IS NOT NULL) AS unsplit
    FROM day_rows d {dedup}
)
SELECT
    r.subscription_id, r.subscription_name, r.product_id, {ATTRIBUTION_SQL},
    {dim_columns}r.deployment, r.model, r.region, r.unsplit,
    count(*) AS requests,
    count(*) FILTER (WHERE r.status_code < 400) AS successful,
    count(*) FILTER (WHERE r.status_code >= 400) AS failed,
    count(*) FILTER (WHERE r.prompt_tokens IS NULL AND r.completion_tokens IS NULL AND r.total_tokens IS NULL)
        AS requests_without_usage,
    coalesce(sum(r.prompt_tokens), 0) AS prompt_tokens,
    coalesce(sum(r.cached_tokens), 0) AS cached_tokens,
    coalesce(sum(r.completion_tokens), 0) AS completion_tokens,
    coalesce(sum(r.reasoning_tokens), 0) AS reasoning_tokens,
    coalesce(sum(r.total_tokens), 0) AS total_tokens,
    coalesce(sum(r.total_tokens) FILTER (WHERE r.unsplit), 0) AS unsplit_tokens
FROM r LEFT JOIN attribution_map m
  ON m.subscription_id IS NOT DISTINCT FROM r.subscription_id AND m.product_id IS NOT DISTINCT FROM r.product_id
GROUP BY ALL
"""


def grouped_sql(dimensions: TagDimensions) -> str:
    """Cap each dimension's values per day (the most requested are kept, the rest become `(other)`), build the
    canonical `tags` text of the bounded values, take the cost centre and owner of the decided team, and merge."""
    kept = []
    bounded = []
    for i in range(len(dimensions.keys)):
        kept.append(
            f"kept{i} AS (SELECT d{i} AS v FROM raw_grouped WHERE d{i} IS NOT NULL AND d{i} <> '{INVALID}' "
            f"GROUP BY d{i} QUALIFY row_number() OVER (ORDER BY sum(requests) DESC, d{i}) <= {dimensions.max_values})"
        )
        bounded.append(
            f"CASE WHEN g.d{i} IS NULL OR g.d{i} = '{INVALID}' OR g.d{i} IN (SELECT v FROM kept{i}) THEN g.d{i} "
            f"ELSE '{OVERFLOW}' END"
        )
    tags = tags_json_sql(list(zip(dimensions.keys, bounded, strict=True)))
    return f"""
{"WITH " + ", ".join(kept) if kept else ""}
SELECT
    g.subscription_id::VARCHAR AS subscription_id, g.subscription_name::VARCHAR AS subscription_name,
    g.product_id::VARCHAR AS product_id, g.team::VARCHAR AS team, g.attribution::VARCHAR AS attribution,
    (CASE WHEN g.attribution = 'header' THEN dir.cost_center ELSE g.map_cost_center END)::VARCHAR AS cost_center,
    (CASE WHEN g.attribution = 'header' THEN dir.owner ELSE g.map_owner END)::VARCHAR AS owner,
    {tags} AS tags,
    g.deployment::VARCHAR AS deployment, g.model::VARCHAR AS model,
    regexp_replace(lower(g.region::VARCHAR), '\\s', '', 'g') AS reported_region, g.unsplit,
    sum(g.requests)::BIGINT AS requests, sum(g.successful)::BIGINT AS successful, sum(g.failed)::BIGINT AS failed,
    sum(g.requests_without_usage)::BIGINT AS requests_without_usage,
    sum(g.prompt_tokens)::BIGINT AS prompt_tokens, sum(g.cached_tokens)::BIGINT AS cached_tokens,
    sum(g.completion_tokens)::BIGINT AS completion_tokens, sum(g.reasoning_tokens)::BIGINT AS reasoning_tokens,
    sum(g.total_tokens)::BIGINT AS total_tokens, sum(g.unsplit_tokens)::BIGINT AS unsplit_tokens
FROM raw_grouped g LEFT JOIN team_directory dir ON dir.team = g.team AND g.attribution = 'header'
GROUP BY ALL
"""


PRICED_SQL = load("priced")

FINAL_SQL = load("final")

UNPRICED_SQL = load("unpriced")
"""Every token that has no price: `unpriced_tokens` is prompt + completion, or the total of records that reported no
split (`tokens_not_split`)."""

UNMAPPED_SQL = load("unmapped")
"""Usage whose APIM subscription/product the attribution map does not know on that day: costed, but billed to no
team until the map names one (then re-run `chargeback aggregate` for those days)."""


def roll_up_day(
    day_files: Sequence[str],
    day: date,
    *,
    prices: pa.Table,
    deployments: pa.Table,
    ptu: PtuConfig,
    team_tag: str,
    teams: TeamsMap | None = None,
    dimensions: TagDimensions | None = None,
    threads: int | None = None,
) -> dict[str, pa.Table]:
    """Return `chargeback_daily`, `unpriced`, `unmapped` and `ptu_allocation` for one day from its local Parquet files.

    Pure: reads only its inputs. `day_files` in a stable order (lakeio.local_day_files sorts them): the order
    breaks ties between exact copies of one event. Without `teams` every call is `unmapped`.
    """
    teams = teams or TeamsMap()
    dimensions = dimensions or TagDimensions()
    con = connect(threads=threads)
    try:
        con.register("prices", prices)
        con.register("deployments", deployments)
        con.register("ptu_today", ptu_today_table(ptu, day))
        if not day_files:
            con.register("empty_usage", USAGE_SCHEMA.empty_table())
        legacy = bool(day_files) and not all_have_tags_json(day_files)
        con.execute(f"CREATE TEMP VIEW day_rows AS {day_rows_sql(day_files, with_tags_json=not legacy)}")
        copies = extra_copies(con) if day_files else None
        dedup = ""
        if copies is not None:
            con.register("extra_copies", copies)
            dedup = f"ANTI JOIN extra_copies USING ({ROW_KEY})"
        pairs = con.sql("SELECT DISTINCT subscription_id, product_id FROM day_rows").fetchall()
        con.register("attribution_map", attribution_table(teams, day, pairs))
        con.register("team_directory", directory_table(teams, day))
        raw_grouped = con.sql(raw_grouped_sql(team_tag, dimensions, legacy=legacy, dedup=dedup)).to_arrow_table()
        con.register("raw_grouped", raw_grouped)
        grouped = con.sql(grouped_sql(dimensions)).to_arrow_table()
        con.register("grouped", grouped)
        priced = con.sql(PRICED_SQL, params={"day": day}).to_arrow_table()
        con.register("priced", priced)
        allocation = allocate_ptu(priced, ptu, day)
        con.register("ptu_allocation", allocation)
        con.register("ptu_costs", allocation.select(["gid", "allocated_cost"]).rename_columns(["gid", "ptu_cost"]))
        daily = con.sql(FINAL_SQL).to_arrow_table()
        con.register("daily", daily)
        return {
            "chargeback_daily": daily,
            "unpriced": con.sql(UNPRICED_SQL).to_arrow_table(),
            "unmapped": con.sql(UNMAPPED_SQL).to_arrow_table(),
            "ptu_allocation": allocation.drop_columns(["gid"]),
        }
    finally:
        con.close()


MONTHLY_SQL = load("monthly")


def roll_up_month(month_daily: object) -> pa.Table:
    con = connect()
    try:
        con.register("month_daily", month_daily)
        return con.sql(MONTHLY_SQL).to_arrow_table()
    finally:
        con.close()


__all__ = [
    "FINAL_SQL",
    "MONTHLY_SQL",
    "PRICED_SQL",
    "PTU_ALLOCATION_SCHEMA",
    "UNMAPPED_SQL",
    "UNPRICED_SQL",
    "allocate_ptu",
    "connect",
    "day_rows_sql",
    "grouped_sql",
    "ptu_today_table",
    "raw_grouped_sql",
    "roll_up_day",
    "roll_up_month",
]
