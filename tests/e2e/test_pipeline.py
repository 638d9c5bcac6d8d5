"""The whole flow through every real part, checked against ground truth computed here from the exchanges.

exchanges → the APIM policy under Mono → the SDK's producer → the local Event Hubs server → `chargeback consume`
→ the lake → `chargeback aggregate` → chargeback totals == what the test computes by hand.

The lake is local by default (consume and aggregate are ~10x slower on Azurite; the Blob paths have their own focused
tests on Azurite in tests/integration); `--lake-backend blob` or `both` (nightly: `make test-deep`) runs it on Azurite.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from chargeback.demo.emit import run_policy, send
from chargeback.demo.traffic import DEPLOYMENTS, PTU, TrafficGenerator, Truth, deployments_csv, ptu_config, teams_csv
from schemas.limits import MAX_MESSAGE_BYTES

pytestmark = pytest.mark.e2e

MONTH = date(2026, 10, 1)
CALLS = 400
PRICES = Path(__file__).resolve().parents[2] / "aggregator" / "data" / "prices.csv"
CENT = Decimal("0.01")


def chargeback(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "chargeback", *args], env=env, capture_output=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"chargeback {args} exited {done.returncode}:\n{done.stderr.decode()[-4000:]}"
    return done.stdout.decode()


def price_rows() -> dict[tuple[str, str], dict[str, str]]:
    """The shipped sheet, read with the csv module: (model, deployment_type) -> row (no validity ranges in it)."""
    lines = [line for line in PRICES.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    rows = {}
    for row in csv.DictReader(lines):
        assert not row["effective_from"] and not row["effective_to"], "the test assumes the shipped sheet is flat"
        if row["region"] == "*":
            rows[(row["model"], row["deployment_type"])] = row
    return rows


def expected_token_cost(truth: Truth, model: str, prices: dict) -> Decimal:
    """Per 1M tokens: uncached input at the input price, cached at the cached price (input price if none),
    completion (reasoning included) at the output price."""
    base = model.rsplit("-", 3)[0] if model[-10:-6].isdigit() and model[-11] == "-" else model
    row = prices[(base, truth.deployment_type)]
    unit = Decimal(1_000_000)
    price_in = Decimal(row["input"])
    price_cached = Decimal(row["cached_input"]) if row["cached_input"] else price_in
    price_out = Decimal(row["output"]) if row["output"] else Decimal(0)
    prompt, cached = truth.prompt_tokens or 0, truth.cached_tokens or 0
    return ((prompt - cached) * price_in + cached * price_cached + (truth.completion_tokens or 0) * price_out) / unit


@pytest.fixture
def exchanges_through_policy():
    calls = list(TrafficGenerator(MONTH, CALLS, seed=7, captured_calls=3))
    emitted = run_policy(calls)
    assert emitted.expression_errors == 0
    assert all(len(m.body) <= MAX_MESSAGE_BYTES for m in emitted.messages)
    by_id = {c.truth.request_id: c.truth for c in calls}
    assert {m.partition_key for m in emitted.messages} == set(by_id)
    return calls, emitted


def test_exchanges_to_chargeback_totals(exchanges_through_policy, localhub, lake, tmp_path):
    calls, emitted = exchanges_through_policy
    truths = [c.truth for c in calls]
    (tmp_path / "deployments.csv").write_text(deployments_csv(), encoding="utf-8")
    (tmp_path / "ptu.json").write_text(json.dumps(ptu_config(MONTH)), encoding="utf-8")
    (tmp_path / "teams.csv").write_text(teams_csv(MONTH), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEBACK_")} | lake.env()
    env |= {
        "CHARGEBACK_EVENTHUB_CONNECTION_STRING": localhub.connection_string("usage"),
        "CHARGEBACK_DEPLOYMENTS_CONFIG": str(tmp_path / "deployments.csv"),
        "CHARGEBACK_PTU_CONFIG": str(tmp_path / "ptu.json"),
        "CHARGEBACK_TEAMS_CONFIG": str(tmp_path / "teams.csv"),
        "CHARGEBACK_HEALTH_PORT": "0",
        "CHARGEBACK_LOAD_BALANCING_INTERVAL_SECONDS": "1",
    }

    sent = asyncio.run(send(localhub.connection_string("usage"), emitted.messages))
    assert sent == len(emitted.messages)
    chargeback("consume", "--until-idle", "3", env=env)
    chargeback("aggregate", "--from", "2026-10-01", "--to", "2026-10-31", env=env)

    def sql(query: str) -> list[dict]:
        return json.loads(chargeback("sql", query, "--format", "json", env=env))

    # 1. The lake holds every call exactly once, with the truth's tokens, and the captured bodies apart.
    lake = {
        r["record_id"]: r
        for r in sql(
            "SELECT record_id, status_code, prompt_tokens, cached_tokens, "
            "completion_tokens, reasoning_tokens, deployment FROM usage"
        )
    }
    assert set(lake) == {t.request_id for t in truths}
    for t in truths:
        row = lake[t.request_id]
        assert (row["status_code"], row["deployment"]) == (t.status, t.deployment)
        assert row["prompt_tokens"] == t.prompt_tokens
        assert row["completion_tokens"] == t.completion_tokens
        assert row["cached_tokens"] == t.cached_tokens
        assert row["reasoning_tokens"] == t.reasoning_tokens
    assert sql("SELECT count(*) AS n FROM dead_letters")[0]["n"] == 0
    bodies = sql("SELECT record_id, part, truncated, original_bytes FROM payloads ORDER BY ALL")
    captured = {t.request_id for t in truths if t.captured}
    assert {b["record_id"] for b in bodies} == captured and len(bodies) == 2 * len(captured)

    # 2. Monthly chargeback per team and deployment equals the truth, to the cent.
    prices = price_rows()
    models = {d.name: d.model for d in DEPLOYMENTS}
    listed = {d.name for d in DEPLOYMENTS if d.listed}
    expected: dict[tuple, dict] = defaultdict(lambda: {"requests": 0, "prompt": 0, "completion": 0, "cost": Decimal(0)})
    for t in truths:
        if t.deployment not in listed and t.reported:
            continue  # tokens on a deployment with no price: unpriced (step 3), never in these rows
        cell = expected[(t.team, t.deployment)]
        cell["requests"] += 1
        cell["prompt"] += t.prompt_tokens or 0
        cell["completion"] += t.completion_tokens or 0
        if t.reported and t.deployment_type != "provisioned":
            cell["cost"] += expected_token_cost(t, models[t.deployment], prices)
    rows = sql(
        "SELECT team, deployment, sum(requests) AS requests, sum(prompt_tokens) AS prompt, "
        "sum(completion_tokens) AS completion, sum(token_cost) AS cost FROM chargeback_monthly "
        "WHERE pricing_status <> 'unpriced' AND pricing_status <> 'ptu_idle' GROUP BY ALL"
    )
    actual = {(r["team"], r["deployment"]): r for r in rows}
    assert set(actual) == set(expected)
    for key, want in expected.items():
        got = actual[key]
        assert (int(got["requests"]), int(got["prompt"]), int(got["completion"])) == (
            want["requests"],
            want["prompt"],
            want["completion"],
        ), key
        assert Decimal(str(got["cost"])).quantize(CENT) == want["cost"].quantize(CENT), key

    # 3. Usage of a deployment with no price in force is reported, never a silent zero (a call that carried no
    # tokens, e.g. a 429, has nothing to price: it is a `no_tokens` row of its team, counted in step 2).
    unlisted = [t for t in truths if t.deployment not in listed and t.reported]
    unpriced = sql("SELECT sum(requests) AS n FROM unpriced")[0]["n"]
    assert int(unpriced or 0) == len(unlisted) > 0

    # 4. PTU: the month's fixed cost is allocated by each day's token share, and every cent lands somewhere.
    daily_ptu: dict[date, dict[str | None, int]] = defaultdict(lambda: defaultdict(int))
    for t in truths:
        if t.deployment == PTU["deployment"] and t.reported:
            daily_ptu[t.day][t.team] += (t.prompt_tokens or 0) + (t.completion_tokens or 0)
    day_cost = Decimal(PTU["hourly_rate"]) * PTU["ptu_count"] * 24
    want_share: dict[str | None, Decimal] = defaultdict(Decimal)
    for per_team in daily_ptu.values():
        total = sum(per_team.values())
        for team, tokens in per_team.items():
            want_share[team] += day_cost * tokens / total
    got_share = {
        r["team"]: Decimal(str(r["ptu"]))
        for r in sql(
            "SELECT team, sum(ptu_cost) AS ptu FROM chargeback_monthly WHERE pricing_status = 'ptu' GROUP BY team"
        )
    }
    assert set(got_share) == set(want_share)
    for team, want in want_share.items():
        assert abs(got_share[team] - want) <= CENT, team
    month_total = Decimal(str(sql("SELECT sum(ptu_cost) AS c FROM chargeback_monthly")[0]["c"]))
    assert month_total.quantize(CENT) == (day_cost * 31).quantize(CENT)
