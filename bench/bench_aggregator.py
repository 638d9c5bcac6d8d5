"""Daily roll-up over N synthetic usage rows (default 10M) against the same roll-up in pandas; `sql` latency.

Both roll-ups do the same work on the same Parquet files of one lake day: read, deduplicate by `record_id`
(1% of rows are redeliveries), aggregate tokens per subscription x product x team x deployment x model, and price
the aggregates with the price in force that day. Each runs in its own subprocess so peak RSS is its own
(`ru_maxrss` of the child). pandas is what an analyst reaches for (pyarrow engine, vectorised groupby, float money).
The run fails unless both give the same requests, tokens and cost per deployment.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.figures import Figure

DAY = date(2026, 11, 10)
FILES_PER_HOUR = 4
DUPLICATE_SHARE = 0.01
DEPLOYMENTS = ["gpt-4.1", "gpt-4.1-mini", "gpt-4o", "o4-mini", "gpt-4.1-batch", "gpt-4.1-eu", "text-embedding-3-small"]
MODELS = {
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4o": "gpt-4o-2024-11-20",
    "o4-mini": "o4-mini-2025-04-16",
    "gpt-4.1-batch": "gpt-4.1-2025-04-14",
    "gpt-4.1-eu": "gpt-4.1-2025-04-14",
    "text-embedding-3-small": "text-embedding-3-small",
}
SQL_QUERY = (
    "SELECT deployment, count(*) AS requests, sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion "
    f"FROM usage WHERE event_date = DATE '{DAY}' GROUP BY deployment ORDER BY requests DESC"
)


def build_lake(root: Path, rows: int) -> None:
    """One day of usage, 24 hours x FILES_PER_HOUR files, written like the consumer does (schema from schemas/)."""
    from schemas.arrow import USAGE_SCHEMA
    from schemas.tags import tags_json_array

    marker = root / f".complete-{rows}"
    if marker.exists():
        return
    rng = np.random.default_rng(7)
    per_file = rows // (24 * FILES_PER_HOUR)
    serial = 0
    for hour in range(24):
        for part in range(FILES_PER_HOUR):
            n = per_file if (hour, part) != (23, FILES_PER_HOUR - 1) else rows - serial
            ids = np.arange(serial, serial + n)
            dup = rng.random(n) < DUPLICATE_SHARE
            ids[dup] = np.maximum(ids[dup] - 1, serial)  # a redelivery repeats the previous record
            serial += n
            record_id = pa.array([f"{i:012x}-0000-4000-8000-000000000000" for i in ids])
            start = int(datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=UTC).timestamp() * 1e6)
            when = pa.array(start + (ids % 3_600_000_000), pa.timestamp("us", tz="UTC"))
            dep_idx = ids % len(DEPLOYMENTS)
            deployment = pa.array(np.array(DEPLOYMENTS)[dep_idx])
            model = pa.array(np.array([MODELS[d] for d in DEPLOYMENTS])[dep_idx])
            failed = (ids % 50) == 0
            prompt = (ids % 4000 + 100).astype("int64")
            cached = prompt // 4
            completion = np.where(dep_idx == 6, 0, ids % 900 + 10).astype("int64")
            reasoning = np.where(dep_idx == 3, completion // 2, 0).astype("int64")
            mask = pa.array(failed)
            team = (ids % 40).astype(str)
            tags = pa.MapArray.from_arrays(
                pa.array(np.arange(n + 1, dtype="int32")), pa.array(["team"] * n), pa.array(np.char.add("team-", team))
            )
            cols = {
                "schema_version": pa.array(np.ones(n, "int32")),
                "record_id": record_id,
                "event_time": when,
                "duration_ms": pa.array((ids % 2000).astype("int64")),
                "status_code": pa.array(np.where(failed, 429, 200).astype("int32")),
                "operation": pa.array(["chat.completions"] * n),
                "stream": pa.array(np.zeros(n, bool)),
                "api_version": pa.array(["2025-04-01-preview"] * n),
                "deployment": deployment,
                "model": model,
                "region": pa.array(["Sweden Central"] * n),
                "backend_id": pa.array(["aoai"] * n),
                "gateway_id": pa.array(["managed"] * n),
                "service_name": pa.array(["apim"] * n),
                "subscription_id": pa.array(np.char.add("sub-", (ids % 25).astype(str))),
                "subscription_name": pa.array(np.char.add("Subscription ", (ids % 25).astype(str))),
                "product_id": pa.array(np.char.add("product-", (ids % 3).astype(str))),
                "api_id": pa.array(["openai"] * n),
                "operation_id": pa.array(["chat"] * n),
                "user_id": pa.nulls(n, pa.string()),
                "client_ip": pa.nulls(n, pa.string()),
                "tags": tags,
                "tags_json": tags_json_array(tags),
            }
            for name, values in (
                ("prompt_tokens", prompt),
                ("completion_tokens", completion),
                ("total_tokens", prompt + completion),
                ("cached_tokens", cached),
                ("reasoning_tokens", reasoning),
            ):
                cols[name] = pa.array(values, mask=np.asarray(failed))
            cols |= {
                "usage_source": pa.array(np.where(failed, "error_response", "reported")),
                "error_code": pa.array(np.where(failed, "429", None)),
                "eh_partition": pa.array((ids % 4).astype(str)),
                "eh_sequence_number": pa.array(ids.astype("int64") + dup),
                "eh_offset": pa.array(ids.astype(str)),
                "eh_enqueued_time": when,
            }
            del mask
            table = pa.table(cols, schema=USAGE_SCHEMA)
            directory = root / "usage" / f"event_date={DAY}" / f"event_hour={hour:02d}"
            directory.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, directory / f"p0-{serial:012d}.parquet", compression="zstd", row_group_size=200_000)
    marker.touch()


def _ours(lake: str) -> dict:
    from aggregator.deployments import deployments_table, load_deployments
    from aggregator.lakeio import local_day_files, open_lake
    from aggregator.prices import load_price_sheet, prices_table
    from aggregator.ptu import PtuConfig
    from aggregator.rollup import roll_up_day
    from aggregator.settings import SHIPPED_DEPLOYMENTS, SHIPPED_PRICE_SHEET

    prices = prices_table(load_price_sheet(SHIPPED_PRICE_SHEET))
    deployments = deployments_table(load_deployments(SHIPPED_DEPLOYMENTS))
    started = time.perf_counter()
    with local_day_files(open_lake(lake), "usage", DAY) as files:
        tables = roll_up_day(files, DAY, prices=prices, deployments=deployments, ptu=PtuConfig(), team_tag="team")
    seconds = time.perf_counter() - started
    daily = tables["chargeback_daily"].to_pylist()
    by_deployment: dict[str, list] = {}
    for row in daily:
        totals = by_deployment.setdefault(row["deployment"], [0, 0, 0, 0, 0, 0, 0.0])
        counters = ("requests", "successful", "prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens")
        for i, name in enumerate(counters):
            totals[i] += row[name]
        totals[6] += float(row["total_cost"] or 0)
    return {"seconds": seconds, "rows": len(daily), "by_deployment": by_deployment}


def _pandas(lake: str) -> dict:
    import pandas as pd

    from aggregator.prices import load_price_sheet
    from aggregator.rollup import ROLLUP_COLUMNS
    from aggregator.settings import SHIPPED_PRICE_SHEET

    sheet = pd.DataFrame(
        [
            {
                "model": r.model,
                "deployment_type": r.deployment_type.value,
                "input": float(r.input_per_1m),
                "cached": float(r.cached_input_per_1m if r.cached_input_per_1m is not None else r.input_per_1m),
                "output": float(r.output_per_1m or 0),
            }
            for r in load_price_sheet(SHIPPED_PRICE_SHEET)
            if r.in_force(DAY) and r.region == "*"
        ]
    )
    kinds = pd.read_csv(Path(__file__).parents[1] / "aggregator" / "data" / "deployments.example.csv", comment="#")
    started = time.perf_counter()
    # The whole day directory in one call (pyarrow reads its files in parallel), only the columns ours reads.
    # The tags map, not our `tags_json` text: an analyst takes the team from the map.
    columns = [c if c != "tags_json" else "tags" for c in ROLLUP_COLUMNS]
    df = pd.read_parquet(Path(lake) / "usage" / f"event_date={DAY}", columns=columns)
    df = df.sort_values(["eh_enqueued_time", "eh_partition", "eh_sequence_number"]).drop_duplicates("record_id")
    df["team"] = df["tags"].map(lambda pairs: dict(pairs).get("team"))
    df["ok"] = df["status_code"] < 400
    dims = ["subscription_id", "product_id", "team", "deployment", "model"]
    grouped = (
        df.groupby(dims, dropna=False)
        .agg(
            requests=("record_id", "size"),
            successful=("ok", "sum"),
            prompt=("prompt_tokens", "sum"),
            cached=("cached_tokens", "sum"),
            completion=("completion_tokens", "sum"),
            reasoning=("reasoning_tokens", "sum"),
        )
        .reset_index()
    )
    grouped = grouped.merge(kinds[["deployment", "deployment_type"]], on="deployment", how="left")
    grouped["family"] = grouped["model"].str.replace(r"-\d{4}-\d{2}-\d{2}$", "", regex=True)
    priced = grouped.merge(
        sheet,
        left_on=["family", "deployment_type"],
        right_on=["model", "deployment_type"],
        how="left",
        suffixes=("", "_price"),
    )
    priced["cost"] = (
        (priced["prompt"] - priced["cached"]) * priced["input"]
        + priced["cached"] * priced["cached_price"]
        + priced["completion"] * priced["output"]
    ) / 1e6
    seconds = time.perf_counter() - started
    columns = ["requests", "successful", "prompt", "cached", "completion", "reasoning", "cost"]
    sums = priced.groupby("deployment")[columns].sum()
    by_deployment = {
        name: [int(v) for v in row[:-1]] + [float(row[-1])] for name, row in zip(sums.index, sums.values, strict=True)
    }
    return {"seconds": seconds, "rows": len(priced), "by_deployment": by_deployment}


def agree(ours: dict, theirs: dict) -> None:
    """Both roll-ups must give the same counts and tokens per deployment, and the same cost to a millionth."""
    if ours.keys() != theirs.keys():
        raise RuntimeError(f"roll-ups disagree on deployments: {sorted(ours)} vs pandas {sorted(theirs)}")
    for name, mine in ours.items():
        other = theirs[name]
        if mine[:-1] != other[:-1] or abs(mine[-1] - other[-1]) > 1e-6 * max(1.0, abs(mine[-1])):
            raise RuntimeError(f"roll-ups disagree on {name}: {mine} vs pandas {other}")


def _sql(lake: str) -> dict:
    from aggregator.lakeio import open_lake
    from aggregator.settings import AggregatorSettings
    from aggregator.sql import run_query
    from aggregator.views import lake_connection

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        con = lake_connection(open_lake(lake), AggregatorSettings())
        result = run_query(con, SQL_QUERY)
        timings.append(time.perf_counter() - started)
        con.close()
    return {"seconds": min(timings), "rows": result.num_rows}


def _child(kind: str, lake: str) -> None:
    result = {"ours": _ours, "pandas": _pandas, "sql": _sql}[kind](lake)
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, lake: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", f"from bench.bench_aggregator import _child; _child({kind!r}, {str(lake)!r})"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
        timeout=3600,
        env=os.environ | {"CHARGEBACK_LOG_LEVEL": "WARNING"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[Figure]:
    rows = 1_000_000 if quick else int(os.environ.get("BENCH_AGGREGATOR_ROWS", 10_000_000))
    lake = Path(os.environ.get("BENCH_AGGREGATOR_LAKE", f"/tmp/chargeback-bench-lake-v2-{rows}"))
    started = time.perf_counter()
    build_lake(lake, rows)
    print(f"   lake of {rows:,} rows ready in {time.perf_counter() - started:.0f} s", flush=True)
    # The machine is shared: each side runs REPEATS times, alternating, and keeps its fastest run (same for both).
    repeats = int(os.environ.get("BENCH_AGGREGATOR_REPEATS", 1 if quick else 2))
    runs: dict[str, list[dict]] = {"ours": [], "pandas": []}
    for _ in range(repeats):
        for kind, results in runs.items():
            results.append(measure(kind, lake))
    ours = min(runs["ours"], key=lambda r: r["seconds"])
    theirs = min(runs["pandas"], key=lambda r: r["seconds"])
    agree(ours["by_deployment"], theirs["by_deployment"])
    spread = {k: "/".join(f"{r['seconds']:.1f}" for r in v) for k, v in runs.items()}
    sql = measure("sql", lake)
    label = f"{rows / 1e6:g}M"
    return [
        Figure(
            f"daily roll-up, {label} usage rows",
            rows / ours["seconds"],
            "rows/s",
            baseline="pandas 3 same roll-up",
            baseline_value=rows / theirs["seconds"],
            target=">= 10x pandas",
            notes=f"best of {repeats}: ours {ours['seconds']:.2f} s ({spread['ours']}) vs pandas "
            f"{theirs['seconds']:.2f} s ({spread['pandas']}); 1% duplicates; same totals per deployment",
        ),
        Figure(
            f"daily roll-up peak memory, {label} rows",
            ours["peak_mib"],
            "MiB",
            baseline="pandas 3 same roll-up",
            baseline_value=theirs["peak_mib"],
            notes="ru_maxrss of each subprocess (lower is better)",
        ),
        Figure(
            f"`chargeback sql` typical query, {label}-row lake",
            sql["seconds"],
            "s",
            notes="deduplicated usage view, one day, group by deployment; includes opening the lake",
        ),
    ]
