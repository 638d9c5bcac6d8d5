"""`chargeback nightly` runs budgets, alerts, enforcement (dry run) and notifications after the roll-up."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row
from tests.unit.aggregator.pricing_fixture import env_for, write_config
from tests.unit.finops.http_recorder import HttpRecorder
from tests.unit.finops.test_scenario import _sql

TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)
BUDGETS = (
    "budget_id,scope,period,amount,unit,thresholds,action,effective_from,effective_to,protected\n"
    "a-daily,team=a,month,0.01,USD,100,suspend,,,\n"
)


def _lake(tmp_path):
    from schemas.lake import open_location

    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    noon = datetime.combine(YESTERDAY, datetime.min.time(), UTC).replace(hour=12)
    LakeBuilder(location).usage(
        [usage_row(when=noon + timedelta(minutes=i), prompt=9000, completion=900) for i in range(3)]
    )
    budgets = tmp_path / "budgets.csv"
    budgets.write_text(BUDGETS)
    return env_for(write_config(tmp_path / "config", str(tmp_path / "lake"))) | {
        "CHARGEBACK_BUDGETS_CONFIG": str(budgets)
    }


def test_the_nightly_job_evaluates_plans_and_notifies_after_the_roll_up(invoke, tmp_path):
    env = _lake(tmp_path)
    with HttpRecorder() as server:
        hooks = [{"name": "ops", "url": f"{server.url}/hook"}]
        result = invoke(["nightly"], env | {"CHARGEBACK_WEBHOOKS": json.dumps(hooks)})
        assert result.exit_code == 0, result.output
        assert [r.json()["dedup_key"] for r in server.requests] == [f"budget:a-daily:{YESTERDAY.replace(day=1)}:100"]
    assert (
        "nightly: aggregate ok, compact ok, retention ok, reconcile ok, budgets ok, alerts ok, enforce ok, notify ok"
        in result.output
    )
    assert "[enforce] enforce (dry-run): 1 planned" in result.output
    assert _sql(env, "SELECT budget_id, crossed FROM budget_status") == [("a-daily", [100])]
    assert _sql(env, "SELECT action, target, mode, outcome FROM budget_actions") == [
        ("suspend", "sub-1", "dry_run", "planned")
    ]


def test_without_budgets_or_webhooks_the_steps_say_so_and_succeed(invoke, tmp_path):
    env = _lake(tmp_path)
    del env["CHARGEBACK_BUDGETS_CONFIG"]
    result = invoke(["nightly"], env)
    assert result.exit_code == 0, result.output
    assert "CHARGEBACK_BUDGETS_CONFIG is not set" in result.output and "CHARGEBACK_WEBHOOKS is not set" in result.output


def test_a_bad_budgets_file_fails_its_steps_only(invoke, tmp_path):
    env = _lake(tmp_path)
    (tmp_path / "budgets.csv").write_text(BUDGETS + "b,team=b,month,-1,USD,,,,,\n")
    result = invoke(["nightly"], env)
    assert result.exit_code == 3, result.output
    assert "budgets failed (exit 3" in result.output and "row 3, column amount" in result.output
    assert "enforce skipped" in result.output
    assert _sql(env, "SELECT count(*) FROM chargeback_daily")[0][0] > 0  # the roll-up itself went through


def test_config_push_checks_and_uploads_the_budgets_file(invoke, tmp_path):
    env = _lake(tmp_path)
    target = tmp_path / "config-container"
    target.mkdir()
    bad = tmp_path / "bad.csv"
    bad.write_text(BUDGETS + "b,team=b,month,abc,USD,,,,,\n")
    args = ["config", "push", "--config-url", str(target), "--deployments", env["CHARGEBACK_DEPLOYMENTS_CONFIG"]]
    args += ["--teams", env["CHARGEBACK_TEAMS_CONFIG"]]
    result = invoke([*args, "--budgets", str(bad)], env)
    assert result.exit_code == 3 and "row 3, column amount" in result.output
    assert not (target / "budgets.csv").exists()
    result = invoke([*args, "--budgets", env["CHARGEBACK_BUDGETS_CONFIG"]], env)
    assert result.exit_code == 0, result.output
    assert f"CHARGEBACK_BUDGETS_CONFIG={target / 'budgets.csv'}" in result.output
    assert (target / "budgets.csv").read_text() == BUDGETS


def test_a_budgets_file_without_budgets_enforces_nothing_and_does_not_fail(invoke, tmp_path):
    """`config push` uploads a header-only budgets file by default: the night must not fail on it."""
    env = _lake(tmp_path)
    empty = tmp_path / "no-budgets.csv"
    empty.write_text("budget_id,scope,period,amount,unit\n")
    result = invoke(["nightly"], env | {"CHARGEBACK_BUDGETS_CONFIG": str(empty)})
    assert result.exit_code == 0, result.output
    assert "budgets: 0 evaluated" in result.output and "enforce (dry-run): nothing to do" in result.output
