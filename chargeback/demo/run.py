"""`chargeback demo`: synthetic APIM traffic → the policy under Mono → the local Event Hubs server → the consumer →
a local Parquet lake → the aggregator → a summary table and an HTML report. No Azure account, no Docker.

Each stage runs as the user would run it: the consumer, the aggregator and the report are the real `chargeback`
subcommands in child processes configured by `CHARGEBACK_*` variables, so the demo doubles as documentation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from chargeback.demo.emit import run_policy, send
from chargeback.demo.finops_step import run_finops
from chargeback.demo.traffic import TrafficGenerator, Truth, deployments_csv, ptu_config, teams_csv
from common.outputs import writing
from localhub import LocalHub

HUB = "usage"
PARTITIONS = 4


@dataclass(frozen=True)
class DemoPaths:
    root: Path

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def deployments(self) -> Path:
        return self.root / "deployments.csv"

    @property
    def ptu(self) -> Path:
        return self.root / "ptu.json"

    @property
    def teams(self) -> Path:
        return self.root / "teams.csv"


def last_full_month(today: date | None = None) -> date:
    today = today or datetime.now(UTC).date()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def _month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


class StepFailed(RuntimeError):
    pass


def _chargeback(args: list[str], env: dict[str, str], log: Path, *, capture: bool = False) -> str:
    """Run `chargeback ARGS` as a user would, with its logs in `log`; raise with the log's tail on failure."""
    with log.open("ab") as err:
        done = subprocess.run(
            [sys.executable, "-m", "chargeback", *args],
            env=env,
            stdout=subprocess.PIPE if capture else err,
            stderr=err,
            check=False,
        )
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise StepFailed(f"`chargeback {' '.join(args)}` exited {done.returncode}; log {log}:\n{tail}")
    return done.stdout.decode("utf-8") if capture else ""


def _num(value: float | str | None) -> float:
    """SQL results come back as JSON numbers or, for DECIMAL/HUGEINT, as strings."""
    return 0.0 if value is None else float(value)


def _truth_summary(truths: list[Truth]) -> dict[str, int]:
    reported = [t for t in truths if t.reported]
    return {
        "calls": len(truths),
        "calls_with_usage": len(reported),
        "prompt_tokens": sum(t.prompt_tokens or 0 for t in reported),
        "completion_tokens": sum(t.completion_tokens or 0 for t in reported),
    }


async def _run_hub_and_send(messages: list, progress: Progress) -> tuple[LocalHub, int]:
    hub = LocalHub(hubs={HUB: PARTITIONS}, port=0)
    await hub.start()
    task = progress.add_task("send to Event Hubs (local server, real SDK)", total=len(messages))
    sent = await send(hub.connection_string(HUB), messages, progress=lambda n: progress.advance(task, n))
    return hub, sent


def run_demo(out: Path, *, calls: int, month: date, console: Console | None = None) -> int:
    console = console or Console(width=max(110, Console().width))
    logging.getLogger("localhub").setLevel(logging.WARNING)
    paths = DemoPaths(out.resolve())
    started = time.perf_counter()
    for stale in (paths.lake, paths.checkpoints, paths.logs):
        shutil.rmtree(stale, ignore_errors=True)
    with writing(out):  # an --out that cannot be written: one line, exit 2
        paths.logs.mkdir(parents=True, exist_ok=True)
        paths.deployments.write_text(deployments_csv(), encoding="utf-8")
        paths.ptu.write_text(json.dumps(ptu_config(month), indent=2), encoding="utf-8")
        paths.teams.write_text(teams_csv(month), encoding="utf-8")
    console.rule(f"apim-chargeback demo: {calls:,} Azure OpenAI calls in {month:%B %Y}")

    with _progress(console) as progress:
        generated = list(TrafficGenerator(month, calls))
        task = progress.add_task("APIM policy under Mono (C# expressions)", total=len(generated))
        emitted = run_policy(generated, progress=lambda n: progress.advance(task, n))
    if emitted.expression_errors:
        raise StepFailed(
            f"the policy raised in {emitted.expression_errors} expressions: see `chargeback policy simulate`"
        )
    truths = [c.truth for c in generated]

    loop = asyncio.new_event_loop()
    try:
        with _progress(console) as progress:
            hub, sent = loop.run_until_complete(_run_hub_and_send(emitted.messages, progress))
        # The hub keeps serving on this thread's loop while the consumer (a child process) reads from it.
        serving = threading.Thread(target=loop.run_forever, daemon=True)
        serving.start()
        env = os.environ | {
            "CHARGEBACK_EVENTHUB_CONNECTION_STRING": hub.connection_string(HUB),
            "CHARGEBACK_CHECKPOINT_URL": str(paths.checkpoints),
            "CHARGEBACK_LAKE_URL": str(paths.lake),
            "CHARGEBACK_DEPLOYMENTS_CONFIG": str(paths.deployments),
            "CHARGEBACK_PTU_CONFIG": str(paths.ptu),
            "CHARGEBACK_TEAMS_CONFIG": str(paths.teams),
            "CHARGEBACK_HEALTH_PORT": "0",
            "CHARGEBACK_LOAD_BALANCING_INTERVAL_SECONDS": "1",
        }
        with console.status("consumer: reassemble → validate → Parquet (until idle)"):
            _chargeback(["consume", "--until-idle", "3"], env, paths.logs / "consume.log")
        asyncio.run_coroutine_threadsafe(hub.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        serving.join(timeout=10)
    finally:
        if not loop.is_running():
            loop.close()

    first, last = month, _month_end(month)
    with console.status("aggregator: daily and monthly roll-ups, PTU allocation"):
        _chargeback(
            ["aggregate", "--from", first.isoformat(), "--to", last.isoformat()], env, paths.logs / "aggregate.log"
        )

    def sql(query: str) -> list[dict]:
        return json.loads(_chargeback(["sql", query, "--format", "json"], env, paths.logs / "sql.log", capture=True))

    with console.status("budgets and alerts from the daily ledger"):
        env = run_finops(_chargeback, sql, env, paths.root, last, console)
    with console.status("report: self-contained HTML"):
        _chargeback(["report", "--month", f"{month:%Y-%m}", "--out", str(paths.report)], env, paths.logs / "report.log")

    by_team = sql(
        "SELECT coalesce(team, '(unmapped)') AS team, sum(requests) AS requests, sum(total_tokens) AS tokens, "
        "round(sum(token_cost), 2) AS token_cost, round(sum(ptu_cost), 2) AS ptu_cost, "
        "round(sum(total_cost), 2) AS total_cost, any_value(currency) AS currency "
        "FROM chargeback_monthly GROUP BY ALL ORDER BY total_cost DESC NULLS LAST"
    )
    lake = sql(
        "SELECT (SELECT count(*) FROM usage) AS usage_rows, "
        "(SELECT count(*) FROM usage WHERE prompt_tokens IS NOT NULL) AS with_usage, "
        "(SELECT coalesce(sum(prompt_tokens), 0) FROM usage) AS prompt_tokens, "
        "(SELECT coalesce(sum(completion_tokens), 0) FROM usage) AS completion_tokens, "
        "(SELECT count(*) FROM dead_letters) AS dead_letters, (SELECT count(*) FROM payloads) AS payloads, "
        "(SELECT coalesce(sum(requests), 0) FROM unpriced) AS unpriced_requests"
    )[0]
    decided = {
        (r["team"], r["attribution"]): int(_num(r["requests"]))
        for r in sql(
            "SELECT team, attribution, sum(requests) AS requests FROM chargeback_monthly "
            "WHERE attribution IS NOT NULL GROUP BY ALL"
        )
    }

    table = Table(title=f"Chargeback {month:%B %Y} (per team)")
    for column in ("team", "requests", "tokens", "token cost", "PTU share", "total", "currency"):
        table.add_column(column, justify="left" if column in ("team", "currency") else "right")
    for row in by_team:
        table.add_row(
            str(row["team"]),
            f"{_num(row['requests']):,.0f}",
            f"{_num(row['tokens']):,.0f}",
            f"{_num(row['token_cost']):,.2f}",
            f"{_num(row['ptu_cost']):,.2f}",
            f"{_num(row['total_cost']):,.2f}",
            str(row["currency"] or ""),
        )
    console.print(table)

    attribution = Table(title="How each call's team was decided (teams map; x-team only on the shared subscription)")
    for column in ("team", "decided by", "requests"):
        attribution.add_column(column, justify="right" if column == "requests" else "left")
    for (team, how), n in sorted(decided.items(), key=lambda kv: (kv[0][0] or "~", kv[0][1])):
        attribution.add_row(team or "(unmapped)", how, f"{n:,}")
    console.print(attribution)
    truth_decided = Counter((t.team, t.attribution) for t in truths)

    truth = _truth_summary(truths)
    lake = {key: int(_num(value)) for key, value in lake.items()}
    statuses = Counter(t.status for t in truths)
    checks = [
        ("calls generated", truth["calls"], "usage rows in the lake", lake["usage_rows"]),
        ("calls with reported usage", truth["calls_with_usage"], "usage rows with tokens", lake["with_usage"]),
        ("prompt tokens (truth)", truth["prompt_tokens"], "prompt tokens (lake)", lake["prompt_tokens"]),
        (
            "completion tokens (truth)",
            truth["completion_tokens"],
            "completion tokens (lake)",
            lake["completion_tokens"],
        ),
    ]
    console.print(
        f"Events sent: {sent:,}; HTTP statuses: {dict(sorted(statuses.items()))}; captured bodies: "
        f"{lake['payloads']}; dead letters: {lake['dead_letters']}; requests with no price in force: "
        f"{lake['unpriced_requests']} (see the `unpriced` table)"
    )
    ok = True
    for left, lv, right, rv in checks:
        mark = "[green]=[/green]" if lv == rv else "[red]≠[/red]"
        ok &= lv == rv
        console.print(f"  {left}: {lv:,} {mark} {right}: {rv:,}")
    same = dict(truth_decided) == decided
    ok &= same
    console.print(
        f"  calls per billed team and attribution (truth) {'[green]=[/green]' if same else '[red]≠[/red]'} "
        "requests per team and attribution (chargeback)"
    )
    elapsed = time.perf_counter() - started
    lake_arg = str(paths.lake)
    console.print(f"\nDone in {elapsed:.0f} s. Report: {paths.report}\nLake: {lake_arg}\n\nExplore it:")
    for query in (
        "SELECT team, deployment, sum(total_cost) AS cost FROM chargeback_monthly GROUP BY ALL ORDER BY cost DESC",
        "SELECT date, sum(cached_tokens) AS cached, sum(prompt_tokens) AS prompt FROM chargeback_daily "
        "GROUP BY date ORDER BY date",
        "SELECT status_code, usage_source, count(*) FROM usage GROUP BY ALL ORDER BY 3 DESC",
        "SELECT deployment, reason, sum(requests) FROM unpriced GROUP BY ALL",
    ):
        console.print(f'  chargeback sql --lake {lake_arg} "{query}"', soft_wrap=True, highlight=False)
    console.print(
        "\nServe it (read-only API and dashboard on this machine; paste $CHARGEBACK_API_KEY into the page):\n"
        "  export CHARGEBACK_API_AUTH=api_key CHARGEBACK_API_KEY=\"$(python3 -c 'import secrets; "
        "print(secrets.token_hex(16))')\"\n"
        f"  chargeback serve --lake {lake_arg}   # then open http://127.0.0.1:8000/ (API: /api/v1, docs: /api/v1/docs)",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    return 0 if ok else 6
