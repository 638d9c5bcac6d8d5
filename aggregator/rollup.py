"""One day's roll-up: deduplicate, aggregate tokens per chargeback key, then price the aggregates (never per row).

Steps, all in DuckDB over the day's local Parquet files (its own reader: projected, multi-threaded):
1. deduplicate by `record_id` (the row first enqueued wins: lowest `eh_enqueued_time`, then partition, then
   sequence number; aggregator/dedup.py). Only the few ids seen more than once are ranked; every other row
   passes untouched;
2. aggregate counters and token classes per subscription x product x tags map x deployment x model x region,
   then derive the team and the canonical (sorted JSON) tags of each group, and merge groups whose tags differ
   only in order;
3. resolve each deployment's type and region (deployments map; PTU config makes a deployment provisioned);
4. join the price row in force on that day (exact model before the model without its date suffix, exact region
   before `*`), and compute costs as DECIMAL (no floating point anywhere);
5. allocate PTU cost by token share (aggregator/ptu.py).

Token classes (schemas/README.md section 4): prompt_tokens INCLUDES cached_tokens, completion_tokens INCLUDES
reasoning_tokens. So: input cost = (prompt - cached) x input price; cached cost = cached x cached price (input price
if the model has none); output cost = completion x output price; `reasoning_cost` is the part of the output cost
that reasoning tokens account for (already in `output_cost`, shown, not added).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from aggregator.dedup import ROW_KEY, extra_copies
from aggregator.ptu import PtuConfig, Share, allocate
from schemas.arrow import USAGE_SCHEMA
from schemas.tags import TAGS_JSON, canonical_tags_json

COST_TYPE = "DECIMAL(38,14)"
COST_ARROW = pa.decimal128(38, 14)

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

RAW_GROUPED_SQL = """
SELECT
    subscription_id, subscription_name, product_id, tags_json, deployment, model, region,
    count(*) AS requests,
    count(*) FILTER (WHERE status_code < 400) AS successful,
    count(*) FILTER (WHERE status_code >= 400) AS failed,
    count(*) FILTER (WHERE prompt_tokens IS NULL AND completion_tokens IS NULL AND total_tokens IS NULL)
        AS requests_without_usage,
    coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
    coalesce(sum(cached_tokens), 0) AS cached_tokens,
    coalesce(sum(completion_tokens), 0) AS completion_tokens,
    coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens,
    coalesce(sum(total_tokens), 0) AS total_tokens,
    coalesce(sum(total_tokens) FILTER (WHERE prompt_tokens IS NULL AND completion_tokens IS NULL), 0)
        AS unsplit_tokens
FROM day_rows {dedup}
GROUP BY ALL
"""
"""Aggregated by the canonical tags text (or, for files older than it, the raw tags map): the team is derived per
group, not per row."""

GROUPED_SQL = """
SELECT
    subscription_id::VARCHAR AS subscription_id, subscription_name::VARCHAR AS subscription_name,
    product_id::VARCHAR AS product_id, team::VARCHAR AS team, tags_json AS tags,
    deployment::VARCHAR AS deployment, model::VARCHAR AS model,
    regexp_replace(lower(region::VARCHAR), '\\s', '', 'g') AS reported_region,
    sum(requests)::BIGINT AS requests, sum(successful)::BIGINT AS successful, sum(failed)::BIGINT AS failed,
    sum(requests_without_usage)::BIGINT AS requests_without_usage,
    sum(prompt_tokens)::BIGINT AS prompt_tokens, sum(cached_tokens)::BIGINT AS cached_tokens,
    sum(completion_tokens)::BIGINT AS completion_tokens, sum(reasoning_tokens)::BIGINT AS reasoning_tokens,
    sum(total_tokens)::BIGINT AS total_tokens, sum(unsplit_tokens)::BIGINT AS unsplit_tokens
FROM raw_grouped
GROUP BY ALL
"""


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def day_rows_sql(files: Sequence[str], *, with_tags_json: bool = True) -> str:
    """The day's rows, read by DuckDB's own Parquet reader (projected, multi-threaded), each with its row key.

    Without `with_tags_json` (some file predates the column) the tags map stands in for `tags_json`, and
    `with_tag_columns` canonicalises it per group."""
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


def with_tag_columns(raw_grouped: pa.Table, team_tag: str) -> pa.Table:
    """Give each group its canonical tags text (`tags_json`, derived from the map for older files) and its team (the
    `team_tag` value)."""
    column = raw_grouped.column(TAGS_JSON)
    texts = column.to_pylist()
    if pa.types.is_map(column.type):
        texts = [canonical_tags_json(pairs) for pairs in texts]
    teams: list[str | None] = []
    seen: dict[str, str | None] = {}
    for text in texts:
        if text not in seen:
            value = json.loads(text).get(team_tag)
            seen[text] = value if isinstance(value, str) else None
        teams.append(seen[text])
    return (
        raw_grouped.drop_columns([TAGS_JSON])
        .append_column("tags_json", pa.array(texts, pa.string()))
        .append_column("team", pa.array(teams, pa.string()))
    )


PRICED_SQL = f"""
WITH g AS (
    -- gid follows the chargeback key, so PTU cents split between equal shares go the same way on every run
    SELECT row_number() OVER (
        ORDER BY subscription_id, subscription_name, product_id, tags, deployment, model, reported_region) AS gid, *
    FROM grouped),
resolved AS (
    SELECT g.*,
        CASE WHEN ptu.deployment IS NOT NULL THEN 'provisioned'
             ELSE coalesce(d.deployment_type, star.deployment_type) END AS deployment_type,
        coalesce(d.region, CASE WHEN d.deployment IS NULL THEN star.region END, g.reported_region) AS region,
        ptu.deployment IS NOT NULL AS has_ptu,
        ptu.currency AS ptu_currency,
        g.prompt_tokens + g.completion_tokens AS billable_tokens
    FROM g
    LEFT JOIN deployments d ON d.deployment = g.deployment
    LEFT JOIN (SELECT * FROM deployments WHERE deployment = '*') star ON true
    LEFT JOIN ptu_today ptu ON ptu.deployment = g.deployment
),
candidates AS (
    SELECT r.gid, p.*
    FROM resolved r JOIN prices p
      ON p.deployment_type = r.deployment_type
     AND (p.model = r.model OR p.model = regexp_replace(r.model, '-\\d{{4}}-\\d{{2}}-\\d{{2}}$', ''))
     AND (p.region = '*' OR p.region = r.region)
     AND (p.effective_from IS NULL OR p.effective_from <= $day)
     AND (p.effective_to IS NULL OR $day < p.effective_to)
    QUALIFY row_number() OVER (
        PARTITION BY r.gid ORDER BY (p.model = r.model) DESC, (p.region <> '*') DESC) = 1
),
status AS (
    SELECT r.*, c.price_id, c.currency AS price_currency, c.input_per_1m, c.cached_input_per_1m, c.output_per_1m,
        CASE
            WHEN r.billable_tokens = 0 AND r.unsplit_tokens = 0 THEN NULL
            WHEN r.unsplit_tokens > 0 THEN 'tokens_not_split'
            WHEN r.deployment_type IS NULL THEN 'unknown_deployment'
            WHEN r.deployment_type = 'provisioned' AND NOT r.has_ptu THEN 'no_ptu_config'
            WHEN r.deployment_type = 'provisioned' THEN NULL
            WHEN r.model IS NULL THEN 'no_model'
            WHEN c.gid IS NULL THEN 'no_price'
            WHEN r.completion_tokens > 0 AND c.output_per_1m IS NULL THEN 'no_output_price'
        END AS unpriced_reason
    FROM resolved r LEFT JOIN candidates c USING (gid)
),
costed AS (
    SELECT s.*,
        CASE WHEN unpriced_reason IS NOT NULL THEN 'unpriced'
             WHEN billable_tokens = 0 THEN 'no_tokens'
             WHEN deployment_type = 'provisioned' THEN 'ptu'
             ELSE 'priced' END AS pricing_status,
        0.000001::DECIMAL(7,6) AS per_token
    FROM status s
)
SELECT
    gid,
    $day::DATE AS date,
    subscription_id, subscription_name, product_id, team, tags, deployment, model, deployment_type, region,
    requests::BIGINT AS requests, successful::BIGINT AS successful, failed::BIGINT AS failed,
    requests_without_usage::BIGINT AS requests_without_usage,
    prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens, total_tokens,
    pricing_status, unpriced_reason,
    CASE WHEN pricing_status = 'priced' THEN price_id END AS price_id,
    CASE WHEN pricing_status = 'priced' THEN price_currency
         WHEN pricing_status = 'ptu' THEN ptu_currency END AS currency,
    CASE WHEN pricing_status = 'priced' THEN input_per_1m END AS input_per_1m,
    CASE WHEN pricing_status = 'priced' THEN coalesce(cached_input_per_1m, input_per_1m) END AS cached_input_per_1m,
    CASE WHEN pricing_status = 'priced' THEN output_per_1m END AS output_per_1m,
    CASE pricing_status WHEN 'priced' THEN (prompt_tokens - cached_tokens)::DECIMAL(38,0) * input_per_1m * per_token
        WHEN 'unpriced' THEN NULL ELSE 0 END::{COST_TYPE} AS input_cost,
    CASE pricing_status WHEN 'priced'
            THEN cached_tokens::DECIMAL(38,0) * coalesce(cached_input_per_1m, input_per_1m) * per_token
        WHEN 'unpriced' THEN NULL ELSE 0 END::{COST_TYPE} AS cached_input_cost,
    CASE pricing_status WHEN 'priced' THEN completion_tokens::DECIMAL(38,0) * coalesce(output_per_1m, 0) * per_token
        WHEN 'unpriced' THEN NULL ELSE 0 END::{COST_TYPE} AS output_cost,
    CASE pricing_status WHEN 'priced' THEN reasoning_tokens::DECIMAL(38,0) * coalesce(output_per_1m, 0) * per_token
        WHEN 'unpriced' THEN NULL ELSE 0 END::{COST_TYPE} AS reasoning_cost
FROM costed
"""

FINAL_SQL = f"""
SELECT
    p.date, p.subscription_id, p.subscription_name, p.product_id, p.team, p.tags, p.deployment, p.model,
    p.deployment_type, p.region, p.requests, p.successful, p.failed, p.requests_without_usage,
    p.prompt_tokens, p.cached_tokens, p.completion_tokens, p.reasoning_tokens, p.total_tokens,
    p.input_cost, p.cached_input_cost, p.output_cost, p.reasoning_cost,
    (p.input_cost + p.cached_input_cost + p.output_cost)::{COST_TYPE} AS token_cost,
    coalesce(a.ptu_cost, 0)::{COST_TYPE} AS ptu_cost,
    (p.input_cost + p.cached_input_cost + p.output_cost + coalesce(a.ptu_cost, 0))::{COST_TYPE} AS total_cost,
    p.currency, p.pricing_status, p.unpriced_reason,
    p.price_id, p.input_per_1m, p.cached_input_per_1m, p.output_per_1m
FROM priced p LEFT JOIN ptu_costs a USING (gid)
UNION ALL BY NAME
SELECT
    date, NULL AS subscription_id, NULL AS subscription_name, NULL AS product_id, NULL AS team, '{{}}' AS tags,
    deployment, NULL AS model, 'provisioned' AS deployment_type, NULL AS region,
    0::BIGINT AS requests, 0::BIGINT AS successful, 0::BIGINT AS failed, 0::BIGINT AS requests_without_usage,
    0::BIGINT AS prompt_tokens, 0::BIGINT AS cached_tokens, 0::BIGINT AS completion_tokens,
    0::BIGINT AS reasoning_tokens, 0::BIGINT AS total_tokens,
    0::{COST_TYPE} AS input_cost, 0::{COST_TYPE} AS cached_input_cost, 0::{COST_TYPE} AS output_cost,
    0::{COST_TYPE} AS reasoning_cost, 0::{COST_TYPE} AS token_cost, allocated_cost::{COST_TYPE} AS ptu_cost,
    allocated_cost::{COST_TYPE} AS total_cost, currency, 'ptu_idle' AS pricing_status, NULL AS unpriced_reason,
    NULL AS price_id, NULL::DECIMAL(18,8) AS input_per_1m, NULL::DECIMAL(18,8) AS cached_input_per_1m,
    NULL::DECIMAL(18,8) AS output_per_1m
FROM ptu_allocation WHERE status = 'idle'
ORDER BY ALL
"""

UNPRICED_SQL = """
SELECT date, subscription_id, subscription_name, product_id, team, tags, deployment, model, deployment_type, region,
    unpriced_reason AS reason, requests, prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens, total_tokens
FROM daily WHERE pricing_status = 'unpriced'
ORDER BY ALL
"""

PTU_ALLOCATION_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("deployment", pa.string(), nullable=False),
        pa.field("gid", pa.int64()),
        pa.field("subscription_id", pa.string()),
        pa.field("subscription_name", pa.string()),
        pa.field("product_id", pa.string()),
        pa.field("team", pa.string()),
        pa.field("tokens", pa.int64(), nullable=False),
        pa.field("deployment_tokens", pa.int64(), nullable=False),
        pa.field("ptu_count", pa.int64(), nullable=False),
        pa.field("hourly_rate", pa.decimal128(18, 8), nullable=False),
        pa.field("hours", pa.int64(), nullable=False),
        pa.field("day_cost", COST_ARROW, nullable=False),
        pa.field("allocated_cost", COST_ARROW, nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
    ]
)


def ptu_today_table(config: PtuConfig, day: date) -> pa.Table:
    active = config.in_force(day)
    return pa.table(
        {"deployment": list(active), "currency": [p.currency for p in active.values()]},
        schema=pa.schema([("deployment", pa.string()), ("currency", pa.string())]),
    )


def allocate_ptu(priced: pa.Table, config: PtuConfig, day: date) -> pa.Table:
    """One allocation row per chargeback row of a provisioned deployment, or one `idle` row for a day of no traffic."""
    active = config.in_force(day)
    rows = [
        r
        for r in priced.to_pylist()
        if r["pricing_status"] == "ptu" or (r["deployment"] in active and r["pricing_status"] == "no_tokens")
    ]
    out: list[dict[str, object]] = []
    for name, deployment in sorted(active.items()):
        cost = deployment.day_cost()
        mine = sorted((r for r in rows if r["deployment"] == name), key=lambda r: r["gid"])
        total = sum(r["prompt_tokens"] + r["completion_tokens"] for r in mine)
        common = {
            "date": day,
            "deployment": name,
            "deployment_tokens": total,
            "ptu_count": deployment.ptu_count,
            "hourly_rate": deployment.hourly_rate,
            "hours": 24,
            "day_cost": cost,
            "currency": deployment.currency,
        }
        if total == 0:
            out.append(common | {"gid": None, "tokens": 0, "allocated_cost": cost, "status": "idle"})
            continue
        users = [r for r in mine if r["prompt_tokens"] + r["completion_tokens"] > 0]
        shares = allocate(cost, [Share(r["gid"], r["prompt_tokens"] + r["completion_tokens"]) for r in users])
        for r in users:
            out.append(
                common
                | {
                    "gid": r["gid"],
                    "subscription_id": r["subscription_id"],
                    "subscription_name": r["subscription_name"],
                    "product_id": r["product_id"],
                    "team": r["team"],
                    "tokens": r["prompt_tokens"] + r["completion_tokens"],
                    "allocated_cost": shares[r["gid"]],
                    "status": "allocated",
                }
            )
    return pa.Table.from_pylist(out, schema=PTU_ALLOCATION_SCHEMA)


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def roll_up_day(
    day_files: Sequence[str],
    day: date,
    *,
    prices: pa.Table,
    deployments: pa.Table,
    ptu: PtuConfig,
    team_tag: str,
    threads: int | None = None,
) -> dict[str, pa.Table]:
    """Return `chargeback_daily`, `unpriced` and `ptu_allocation` for one day from its local Parquet files.

    Pure: reads only its inputs. `day_files` in a stable order (lakeio.local_day_files sorts them): the order
    breaks ties between exact copies of one event.
    """
    con = connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
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
        raw_grouped = con.sql(RAW_GROUPED_SQL.format(dedup=dedup)).to_arrow_table()
        con.register("raw_grouped", with_tag_columns(raw_grouped, team_tag))
        grouped = con.sql(GROUPED_SQL).to_arrow_table()
        con.register("grouped", grouped)
        priced = con.sql(PRICED_SQL, params={"day": day}).to_arrow_table()
        con.register("priced", priced)
        allocation = allocate_ptu(priced, ptu, day)
        con.register("ptu_allocation", allocation)
        con.register("ptu_costs", allocation.select(["gid", "allocated_cost"]).rename_columns(["gid", "ptu_cost"]))
        daily = con.sql(FINAL_SQL).to_arrow_table()
        con.register("daily", daily)
        unpriced = con.sql(UNPRICED_SQL).to_arrow_table()
        return {
            "chargeback_daily": daily,
            "unpriced": unpriced,
            "ptu_allocation": allocation.drop_columns(["gid"]),
        }
    finally:
        con.close()


MONTHLY_SQL = f"""
SELECT
    strftime(date, '%Y-%m') AS month,
    subscription_id, subscription_name, product_id, team, tags, deployment, model, deployment_type, region,
    currency, pricing_status, unpriced_reason,
    sum(requests)::BIGINT AS requests, sum(successful)::BIGINT AS successful, sum(failed)::BIGINT AS failed,
    sum(requests_without_usage)::BIGINT AS requests_without_usage,
    sum(prompt_tokens)::BIGINT AS prompt_tokens, sum(cached_tokens)::BIGINT AS cached_tokens,
    sum(completion_tokens)::BIGINT AS completion_tokens, sum(reasoning_tokens)::BIGINT AS reasoning_tokens,
    sum(total_tokens)::BIGINT AS total_tokens,
    sum(input_cost)::{COST_TYPE} AS input_cost, sum(cached_input_cost)::{COST_TYPE} AS cached_input_cost,
    sum(output_cost)::{COST_TYPE} AS output_cost, sum(reasoning_cost)::{COST_TYPE} AS reasoning_cost,
    sum(token_cost)::{COST_TYPE} AS token_cost, sum(ptu_cost)::{COST_TYPE} AS ptu_cost,
    sum(total_cost)::{COST_TYPE} AS total_cost,
    string_agg(DISTINCT price_id, ';' ORDER BY price_id) AS price_ids,
    count(DISTINCT date)::BIGINT AS days
FROM month_daily
GROUP BY ALL
ORDER BY ALL
"""


def roll_up_month(month_daily: object) -> pa.Table:
    con = connect()
    try:
        con.register("month_daily", month_daily)
        return con.sql(MONTHLY_SQL).to_arrow_table()
    finally:
        con.close()


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"
