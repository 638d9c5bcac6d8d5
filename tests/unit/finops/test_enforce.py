"""Enforcement with the REAL management SDK (azure-mgmt-apimanagement) against a local HTTP server that records the
calls: dry-run by default, idempotent, audited, undone in the next period, never on a protected scope."""

from __future__ import annotations

import json

import pytest

import finops.enforce
from tests.unit.finops.fake_arm import SERVICE, TOKEN, FakeArm, FakeCredential
from tests.unit.finops.http_recorder import HttpRecorder
from tests.unit.finops.test_scenario import _sql

HEADER = "budget_id,scope,period,amount,unit,thresholds,action,effective_from,effective_to,protected\n"


@pytest.fixture(autouse=True)
def fake_credential(monkeypatch):
    monkeypatch.setattr(finops.enforce, "default_credential", FakeCredential)


def _enforcing(month, server, **extra):
    return (
        month
        | {
            "CHARGEBACK_ENFORCEMENT": "enforce",
            "CHARGEBACK_APIM_SUBSCRIPTION_ID": "0000-azure-sub",
            "CHARGEBACK_APIM_RESOURCE_GROUP": "rg-ai",
            "CHARGEBACK_APIM_SERVICE_NAME": "apim-ai",
            "CHARGEBACK_APIM_ARM_ENDPOINT": server.url,
        }
        | extra
    )


def _writes(server):
    return [
        (r.method, r.path.split("?")[0].removeprefix(SERVICE), r.json()) for r in server.requests if r.method != "GET"
    ]


def _actions(month):
    return _sql(month, "SELECT as_of, action, lever, target, mode, outcome FROM budget_actions ORDER BY recorded_at")


def test_dry_run_is_the_default_and_calls_nothing(invoke, month):
    assert invoke(["budgets", "evaluate", "--as-of", "2026-11-30"], month).exit_code == 0
    with HttpRecorder(responder=FakeArm()) as server:
        env = _enforcing(month, server) | {"CHARGEBACK_ENFORCEMENT": "dry-run"}
        result = invoke(["budgets", "enforce", "--as-of", "2026-11-30"], env)
        assert result.exit_code == 0, result.output
        assert server.requests == []
    assert [a[1:] for a in _actions(month)] == [
        ("suspend", "apim_subscription", "sub-alpha", "dry_run", "skipped_protected"),
        ("suspend", "apim_subscription", "sub-beta", "dry_run", "planned"),
    ]


def test_suspend_once_stay_idempotent_and_reactivate_in_the_next_period(invoke, month):
    arm = FakeArm(subscriptions={"sub-alpha": "active", "sub-beta": "active", "sub-gamma": "active"})
    with HttpRecorder(responder=arm) as server:
        env = _enforcing(month, server)
        for day in ("2026-11-27", "2026-11-28", "2026-11-29", "2026-12-01"):
            assert invoke(["budgets", "evaluate", "--as-of", day], env).exit_code == 0
            result = invoke(["budgets", "enforce", "--as-of", day], env)
            assert result.exit_code == 0, result.output
        assert _writes(server) == [
            ("PATCH", "/subscriptions/sub-beta", {"properties": {"state": "suspended"}}),
            ("PATCH", "/subscriptions/sub-beta", {"properties": {"state": "active"}}),
        ]
        assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in server.requests)
        assert all("api-version=2024-05-01" in r.path for r in server.requests)
    assert arm.subscriptions == {"sub-alpha": "active", "sub-beta": "active", "sub-gamma": "active"}
    rows = [(str(a[0]), *a[1:4], a[5]) for a in _actions(month)]
    assert rows == [
        # 11-27: beta at 96%: nothing to do; alpha is over but protected
        ("2026-11-27", "suspend", "apim_subscription", "sub-alpha", "skipped_protected"),
        ("2026-11-28", "suspend", "apim_subscription", "sub-alpha", "skipped_protected"),
        ("2026-11-28", "suspend", "apim_subscription", "sub-beta", "applied"),  # beta crossed 100% on 11-28
        ("2026-11-29", "suspend", "apim_subscription", "sub-alpha", "skipped_protected"),
        ("2026-11-29", "suspend", "apim_subscription", "sub-beta", "already"),
        ("2026-12-01", "reactivate", "apim_subscription", "sub-beta", "applied"),  # a new month: spend restarts
    ]
    reasons = _sql(month, "SELECT reason FROM budget_actions WHERE outcome = 'applied' ORDER BY recorded_at")
    assert reasons[0][0] == "301.41 of 300.00 USD spent in the period from 2026-11-01"
    assert "no longer over budget" in reasons[1][0]


def test_a_subscription_someone_else_suspended_is_never_reactivated_by_us(invoke, month):
    arm = FakeArm(subscriptions={"sub-alpha": "active", "sub-beta": "suspended"})
    with HttpRecorder(responder=arm) as server:
        env = _enforcing(month, server)
        for day in ("2026-11-30", "2026-12-01"):
            assert invoke(["budgets", "evaluate", "--as-of", day], env).exit_code == 0
            assert invoke(["budgets", "enforce", "--as-of", day], env).exit_code == 0
        assert _writes(server) == []
    assert arm.subscriptions["sub-beta"] == "suspended"
    assert [a[1:] for a in _actions(month) if a[3] == "sub-beta"] == [
        ("suspend", "apim_subscription", "sub-beta", "enforce", "already")
    ]


def test_throttle_through_the_named_value_and_clear_it_next_period(invoke, month, tmp_path):
    budgets = tmp_path / "throttle.csv"
    budgets.write_text(
        HEADER + "mini,deployment=o4-mini,month,100,USD,100,throttle,,,\n"
        "gamma,team=gamma,month,200,USD,100,throttle,,,\n"
        "beta-safe,subscription=sub-beta,month,1,USD,100,notify,,,true\n"
        "beta,team=beta,month,200,USD,100,throttle,,,\n"
    )
    arm = FakeArm(named_values={"chargeback-enforcement": "none"})
    with HttpRecorder(responder=arm) as server:
        env = _enforcing(month, server) | {"CHARGEBACK_BUDGETS_CONFIG": str(budgets)}
        for day in ("2026-11-30", "2026-11-30", "2026-12-01"):
            assert invoke(["budgets", "evaluate", "--as-of", day], env).exit_code == 0
            result = invoke(["budgets", "enforce", "--as-of", day], env)
            assert result.exit_code == 0, result.output
        assert [w[2]["properties"]["value"] for w in _writes(server)] == [
            ";deployment=o4-mini;subscription=sub-gamma;",
            "none",
        ]
        assert server.requests[1].headers["If-Match"] == '"7"'  # the write is conditional on what was read
    rows = [(str(a[0]), a[1], a[3], a[5]) for a in _actions(month)]
    assert rows == [
        ("2026-11-30", "throttle", "subscription=sub-beta", "skipped_protected"),
        ("2026-11-30", "throttle", "deployment=o4-mini", "applied"),
        ("2026-11-30", "throttle", "subscription=sub-gamma", "applied"),
        ("2026-11-30", "throttle", "subscription=sub-beta", "skipped_protected"),
        ("2026-11-30", "throttle", "deployment=o4-mini", "already"),
        ("2026-11-30", "throttle", "subscription=sub-gamma", "already"),
        ("2026-12-01", "unthrottle", "deployment=o4-mini", "applied"),
        ("2026-12-01", "unthrottle", "subscription=sub-gamma", "applied"),
    ]


def test_a_failing_management_api_is_recorded_and_exit_5_without_the_token(invoke, month):
    arm = FakeArm(subscriptions={"sub-beta": "active"}, fail_writes=100)
    with HttpRecorder(responder=arm) as server:
        env = _enforcing(month, server)
        assert invoke(["budgets", "evaluate", "--as-of", "2026-11-30"], env).exit_code == 0
        result = invoke(["budgets", "enforce", "--as-of", "2026-11-30"], env)
    assert result.exit_code == 5, result.output
    assert "1 enforcement action(s) failed" in result.output and TOKEN not in result.output
    (reason,) = _sql(month, "SELECT reason FROM budget_actions WHERE outcome = 'failed'")[0]
    assert "HTTP 500" in reason and TOKEN not in json.dumps(
        _sql(month, "SELECT * EXCLUDE (recorded_at) FROM budget_actions"), default=str
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"CHARGEBACK_APIM_SERVICE_NAME": ""}, "CHARGEBACK_APIM_SERVICE_NAME"),
        ({"CHARGEBACK_APIM_ARM_ENDPOINT": "http://management.example.com"}, "CHARGEBACK_APIM_ARM_ENDPOINT"),
        ({"CHARGEBACK_ENFORCEMENT": "yes"}, "CHARGEBACK_ENFORCEMENT"),
    ],
)
def test_enforcement_settings_are_checked_first(invoke, month, extra, message):
    assert invoke(["budgets", "evaluate", "--as-of", "2026-11-30"], month).exit_code == 0
    with HttpRecorder(responder=FakeArm()) as server:
        result = invoke(["budgets", "enforce", "--as-of", "2026-11-30"], _enforcing(month, server) | extra)
        assert result.exit_code == 3 and message in result.output, result.output
        assert server.requests == []


def test_enforce_needs_an_evaluated_day(invoke, month):
    result = invoke(["budgets", "enforce", "--as-of", "2026-11-30"], month)
    assert result.exit_code == 4 and "budgets evaluate" in result.output


def test_removing_every_budget_reactivates_what_we_suspended(invoke, month, tmp_path):
    """A budget removed from the file (here: every budget) is "no longer over budget": the subscription this
    product suspended is reactivated the next day instead of staying suspended for good."""
    arm = FakeArm(subscriptions={"sub-alpha": "active", "sub-beta": "active"})
    empty = tmp_path / "no-budgets.csv"
    empty.write_text(HEADER)
    with HttpRecorder(responder=arm) as server:
        env = _enforcing(month, server)
        for day, extra in (("2026-11-28", {}), ("2026-11-29", {"CHARGEBACK_BUDGETS_CONFIG": str(empty)})):
            assert invoke(["budgets", "evaluate", "--as-of", day], env | extra).exit_code == 0
            result = invoke(["budgets", "enforce", "--as-of", day], env | extra)
            assert result.exit_code == 0, result.output
        assert arm.subscriptions["sub-beta"] == "active"
    assert [(str(a[0]), a[1], a[3], a[5]) for a in _actions(month) if a[3] == "sub-beta"] == [
        ("2026-11-28", "suspend", "sub-beta", "applied"),
        ("2026-11-29", "reactivate", "sub-beta", "applied"),
    ]


def test_unsetting_the_budgets_file_undoes_our_suspensions_and_throttles(invoke, month, tmp_path):
    """CHARGEBACK_BUDGETS_CONFIG removed from the job: the nightly enforce step still undoes what this product did
    (our suspension reactivated, the named value emptied), and touches nothing it did not do."""
    from finops.nightly import enforce_step
    from schemas.lake import open_location

    budgets = tmp_path / "throttle.csv"
    budgets.write_text(
        HEADER + "mini,deployment=o4-mini,month,100,USD,100,throttle,,,\nbeta,team=beta,month,200,USD,100,suspend,,,\n"
    )
    arm = FakeArm(
        subscriptions={"sub-alpha": "active", "sub-beta": "active", "sub-gamma": "suspended"},
        named_values={"chargeback-enforcement": "none"},
    )
    with HttpRecorder(responder=arm) as server:
        env = _enforcing(month, server) | {"CHARGEBACK_BUDGETS_CONFIG": str(budgets)}
        assert invoke(["budgets", "evaluate", "--as-of", "2026-11-30"], env).exit_code == 0
        assert invoke(["budgets", "enforce", "--as-of", "2026-11-30"], env).exit_code == 0
        assert arm.subscriptions["sub-beta"] == "suspended"
        assert arm.named_values["chargeback-enforcement"] == ";deployment=o4-mini;"
        unset = {k: v for k, v in env.items() if k != "CHARGEBACK_BUDGETS_CONFIG"}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in unset.items():
                patch.setenv(name, value)
            patch.setattr("finops.ledger.default_as_of", lambda: __import__("datetime").date(2026, 12, 1))
            patch.setattr("finops.nightly.default_as_of", lambda: __import__("datetime").date(2026, 12, 1))
            location = open_location(unset["CHARGEBACK_LAKE_URL"])
            lines = enforce_step(type("Ctx", (), {"location": location})())
    assert lines == ["enforce (enforce): 2 applied"], lines
    assert arm.subscriptions == {"sub-alpha": "active", "sub-beta": "active", "sub-gamma": "suspended"}
    assert arm.named_values["chargeback-enforcement"] == "none"
