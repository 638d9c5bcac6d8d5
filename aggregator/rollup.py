"""One day's roll-up: deduplicate, aggregate tokens per chargeback key, then price the aggregates (never per row).

Steps, all in DuckDB over the day's pyarrow dataset:
1. deduplicate by `record_id` (the row first enqueued wins: lowest `eh_enqueued_time`, then partition, then
   sequence number; duplicates are redeliveries of the same record, so any choice gives the same numbers). Only
   the few ids seen more than once are ranked; every other row passes untouched (5x faster than ranking all);
2. aggregate counters and token classes per subscription x product x team/tags x deployment x model x region;
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
from datetime import date
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from aggregator.ptu import PtuConfig, Share, allocate

COST_TYPE = "DECIMAL(38,14)"
COST_ARROW = pa.decimal128(38, 14)

TAG_PAIR, TAG_SEPARATOR = "\x1f", "\x1e"
"""Separators of the flattened tags key (control characters cannot occur in HTTP header names or values)."""
DICTIONARY_COLUMNS = (
    "deployment",
    "model",
    "region",
    "subscription_id",
    "subscription_name",
    "product_id",
    "eh_partition",
)
"""Low-cardinality columns read dictionary-encoded (lakeio.stream_day_dataset)."""
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
)

RAW_GROUPED_SQL = """
WITH duplicated AS (
    -- ids seen more than once, found by a 64-bit hash (cheaper than grouping 10M strings); a hash collision only
    -- sends two different ids to the exact ranking below, which partitions by the id itself
    SELECT hash(record_id) AS id_hash FROM day_rows GROUP BY id_hash HAVING count(*) > 1
),
extra_copies AS (
    SELECT row_index FROM day_rows WHERE hash(record_id) IN (SELECT id_hash FROM duplicated)
    QUALIFY row_number() OVER (
        PARTITION BY record_id ORDER BY eh_enqueued_time, eh_partition, eh_sequence_number) > 1
),
dedup AS (SELECT * FROM day_rows WHERE row_index NOT IN (SELECT row_index FROM extra_copies))
SELECT
    subscription_id, subscription_name, product_id, team, tags_key, deployment, model, region,
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
FROM dedup
GROUP BY ALL
"""

GROUPED_SQL = """
SELECT
    r.subscription_id::VARCHAR AS subscription_id, r.subscription_name::VARCHAR AS subscription_name,
    r.product_id::VARCHAR AS product_id, r.team::VARCHAR AS team, coalesce(k.tags, '{}') AS tags,
    r.deployment::VARCHAR AS deployment, r.model::VARCHAR AS model,
    regexp_replace(lower(r.region::VARCHAR), '\\s', '', 'g') AS reported_region,
    sum(requests)::BIGINT AS requests, sum(successful)::BIGINT AS successful, sum(failed)::BIGINT AS failed,
    sum(requests_without_usage)::BIGINT AS requests_without_usage,
    sum(prompt_tokens)::BIGINT AS prompt_tokens, sum(cached_tokens)::BIGINT AS cached_tokens,
    sum(completion_tokens)::BIGINT AS completion_tokens, sum(reasoning_tokens)::BIGINT AS reasoning_tokens,
    sum(total_tokens)::BIGINT AS total_tokens, sum(unsplit_tokens)::BIGINT AS unsplit_tokens
FROM raw_grouped r LEFT JOIN tag_keys k ON k.tags_key = r.tags_key
GROUP BY ALL
"""


def _tags_key(tags: pa.ChunkedArray) -> pa.ChunkedArray:
    """A map column flattened to one string per row ('k<US>v<RS>k<US>v'), vectorised; canonicalised later."""
    chunks = []
    for chunk in tags.chunks:
        pairs = pc.binary_join_element_wise(chunk.keys, chunk.items, TAG_PAIR)
        lists = pa.ListArray.from_arrays(chunk.offsets, pairs, mask=chunk.is_null())
        chunks.append(pc.binary_join(lists, TAG_SEPARATOR))
    return pa.chunked_array(chunks, pa.string())


def canonical_tags(key: str | None) -> str:
    """The flattened key as a JSON object with sorted keys: the same tags in any order are one chargeback key."""
    if not key:
        return "{}"
    pairs = dict(item.split(TAG_PAIR, 1) for item in key.split(TAG_SEPARATOR))
    return json.dumps(dict(sorted(pairs.items())), ensure_ascii=False, separators=(",", ":"))


def prepare_usage(day_usage: ds.Dataset, team_tag: str) -> pa.Table:
    """Read only what the roll-up needs (multi-threaded), with the team and a flattened tags key computed in Arrow."""
    team = pc.Expression._call("map_lookup", [pc.field("tags")], pc.MapLookupOptions(pa.scalar(team_tag), "first"))
    columns = {name: pc.field(name) for name in ROLLUP_COLUMNS} | {"team": team, "tags": pc.field("tags")}
    table = day_usage.to_table(columns=columns)
    tags_key = _tags_key(table.column("tags"))
    table = table.drop_columns(["tags"]).append_column("tags_key", tags_key)
    row_index = pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), table.num_rows))
    return table.append_column("row_index", row_index)


PRICED_SQL = f"""
WITH g AS (SELECT row_number() OVER () AS gid, * FROM grouped),
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
        mine = [r for r in rows if r["deployment"] == name]
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
    day_usage: ds.Dataset,
    day: date,
    *,
    prices: pa.Table,
    deployments: pa.Table,
    ptu: PtuConfig,
    team_tag: str,
    threads: int | None = None,
) -> dict[str, pa.Table]:
    """Return `chargeback_daily`, `unpriced` and `ptu_allocation` for one day (pure: reads only its inputs)."""
    con = connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    try:
        con.register("day_usage", day_usage)
        con.register("prices", prices)
        con.register("deployments", deployments)
        con.register("ptu_today", ptu_today_table(ptu, day))
        con.register("day_rows", prepare_usage(day_usage, team_tag))
        raw_grouped = con.sql(RAW_GROUPED_SQL).to_arrow_table()
        keys = sorted({k for k in raw_grouped.column("tags_key").to_pylist() if k is not None})
        con.register("tag_keys", pa.table({"tags_key": keys, "tags": [canonical_tags(k) for k in keys]}))
        con.register("raw_grouped", raw_grouped)
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
