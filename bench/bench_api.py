"""The read API over a large lake: the month summary and a paged record query, against `chargeback sql`.

One day of N synthetic usage rows (default 10M, the aggregator benchmark's lake) is rolled up, then `chargeback
serve` runs in its own process (API key, loopback) and is asked, over real HTTP, (a) the month summary grouped by
team and model and (b) pages of 100 records walked with the keyset cursor. The baseline is the same query run by
`chargeback sql` in the same run: what an analyst without the API does (a process, the views, the query).
Latency is per request as the client sees it; requests/s is sequential, one client.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.bench_aggregator import DAY, build_lake
from bench.figures import Figure

KEY = "bench-key-0123456789abcdef"
SUMMARY = f"/api/v1/usage/summary?from={DAY:%Y-%m}-01&to={DAY:%Y-%m}-28&group_by=team,model"
SUMMARY_SQL = (
    "SELECT team, model, currency, sum(requests) AS requests, sum(total_tokens) AS tokens, sum(total_cost) AS cost "
    f"FROM chargeback_daily WHERE date BETWEEN DATE '{DAY:%Y-%m}-01' AND DATE '{DAY:%Y-%m}-28' GROUP BY ALL"
)
RECORDS = f"/api/v1/usage/records?from={DAY}&to={DAY}&limit=100"
RECORDS_SQL = (
    f"SELECT * EXCLUDE (tags_json) FROM usage WHERE event_date = DATE '{DAY}' ORDER BY event_time, record_id LIMIT 100"
)


def _chargeback() -> str:
    return str(Path(sys.executable).with_name("chargeback"))


def _roll_up(lake: Path) -> None:
    from aggregator.aggregate import aggregate_days
    from aggregator.lakeio import open_lake
    from aggregator.settings import AggregatorSettings

    if (lake / "chargeback_daily" / f"date={DAY}").exists():
        return
    aggregate_days(open_lake(str(lake)), [DAY], AggregatorSettings(lake_url=str(lake)))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sql_seconds(lake: Path, query: str, repeats: int) -> list[float]:
    env = os.environ | {"CHARGEBACK_LAKE_URL": str(lake)}
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([_chargeback(), "sql", query, "--format", "json"], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def run(quick: bool) -> list[Figure]:
    import httpx

    rows = 1_000_000 if quick else int(os.environ.get("BENCH_AGGREGATOR_ROWS", 10_000_000))
    lake = Path(os.environ.get("BENCH_AGGREGATOR_LAKE", f"/tmp/chargeback-bench-lake-v2-{rows}"))
    build_lake(lake, rows)
    _roll_up(lake)
    port = _free_port()
    env = os.environ | {
        "CHARGEBACK_LAKE_URL": str(lake),
        "CHARGEBACK_API_AUTH": "api_key",
        "CHARGEBACK_API_KEY": KEY,
        "CHARGEBACK_API_PORT": str(port),
        "CHARGEBACK_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen([_chargeback(), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    requests = 10 if quick else 40
    pages = 10 if quick else 25
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-Api-Key": KEY}, timeout=120) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/api/v1/health")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("chargeback serve did not start") from None
                    time.sleep(0.1)
            for _ in range(3):
                client.get(SUMMARY).raise_for_status()
            summary_times = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get(SUMMARY).raise_for_status()
                summary_times.append(time.perf_counter() - started)
            page_times, after, seen = [], None, 0
            for _ in range(pages):
                started = time.perf_counter()
                response = client.get(RECORDS + (f"&after={after}" if after else ""))
                response.raise_for_status()
                page_times.append(time.perf_counter() - started)
                body = response.json()
                seen += len(body["records"])
                after = body["next"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    sql_summary = _sql_seconds(lake, SUMMARY_SQL, 3)
    sql_records = _sql_seconds(lake, RECORDS_SQL, 1)  # minutes on a 10M-row day: once is enough
    label = f"{rows / 1e6:g}M"
    summary_rate = len(summary_times) / sum(summary_times)
    page_rate = len(page_times) / sum(page_times)
    return [
        Figure(
            f"API month summary (team x model), {label}-row lake",
            summary_rate,
            "requests/s",
            baseline="`chargeback sql` same query (process + views + query)",
            baseline_value=1 / statistics.median(sql_summary),
            notes=f"p50 {statistics.median(summary_times) * 1000:.0f} ms, p95 {_p95(summary_times) * 1000:.0f} ms "
            f"over {len(summary_times)} sequential requests; sql median {statistics.median(sql_summary):.2f} s",
        ),
        Figure(
            f"API month summary p95 latency, {label}-row lake",
            _p95(summary_times),
            "s",
            target="well under 1 s",
        ),
        Figure(
            f"API record pages of 100 (keyset), {label}-row lake",
            page_rate,
            "requests/s",
            baseline="`chargeback sql` first page (process + views + query)",
            baseline_value=1 / statistics.median(sql_records),
            notes=f"p50 {statistics.median(page_times) * 1000:.0f} ms, p95 {_p95(page_times) * 1000:.0f} ms over "
            f"{len(page_times)} pages ({seen} records); sql median {statistics.median(sql_records):.2f} s",
        ),
    ]
