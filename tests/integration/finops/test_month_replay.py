"""The scenario month replayed night by night as the nightly job would (budgets, alerts, enforce, notify, each as of
the day just closed) against a recording ARM server and a webhook receiver: exactly the planted alerts, exactly one
suspension and its undoing in the next month, each crossing and alert notified exactly once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta

import finops.enforce
from tests.unit.finops import month as m
from tests.unit.finops.fake_arm import FakeArm, FakeCredential
from tests.unit.finops.http_recorder import HttpRecorder
from tests.unit.finops.test_enforce import _enforcing
from tests.unit.finops.test_scenario import _sql


def test_a_month_night_by_night(invoke, month, monkeypatch):
    monkeypatch.setattr(finops.enforce, "default_credential", FakeCredential)
    arm = FakeArm(subscriptions={"sub-alpha": "active", "sub-beta": "active", "sub-gamma": "active"})
    with HttpRecorder(responder=arm) as apim, HttpRecorder() as hooks:
        env = _enforcing(month, apim) | {
            "CHARGEBACK_WEBHOOKS": json.dumps([{"name": "ops", "url": f"{hooks.url}/hook"}]),
            "CHARGEBACK_WEBHOOK_BACKOFF_SECONDS": "0",
        }
        day = m.FIRST
        while day <= date(2026, 12, 1):
            for command in (["budgets", "evaluate"], ["alerts", "evaluate"], ["budgets", "enforce"], ["notify"]):
                result = invoke([*command, "--as-of", day.isoformat()], env)
                assert result.exit_code == 0, (day, command, result.output)
            day += timedelta(days=1)
        writes = [
            (r.path.split("?")[0].rsplit("/", 1)[-1], r.json()["properties"]["state"])
            for r in apim.requests
            if r.method == "PATCH"
        ]
        sent = [r.json()["dedup_key"] for r in hooks.requests]

    alerts = _sql(month, "SELECT date, rule, scope FROM alerts ORDER BY ALL")
    assert alerts == [
        (m.SPIKE_DAY, "cost_spike", "all"),
        (m.SPIKE_DAY, "cost_spike", "team=alpha"),
        (m.FAILING_DAY, "error_rate_5xx", "deployment=o4-mini"),
    ]
    assert writes == [("sub-beta", "suspended"), ("sub-beta", "active")]
    assert arm.subscriptions == {"sub-alpha": "active", "sub-beta": "active", "sub-gamma": "active"}
    applied = _sql(month, "SELECT as_of, action, target FROM budget_actions WHERE outcome = 'applied' ORDER BY as_of")
    assert applied == [(date(2026, 11, 28), "suspend", "sub-beta"), (date(2026, 12, 1), "reactivate", "sub-beta")]
    outcomes = Counter(o for (o,) in _sql(month, "SELECT outcome FROM budget_actions"))
    # alpha's protected $10 budget is over from the first day: skipped every night of November, never touched
    assert outcomes == {"skipped_protected": 30, "applied": 2, "already": 2}
    alert_keys = {f"alert:{a}" for (a,) in _sql(month, "SELECT alert_id FROM alerts")}
    assert Counter(sent) == Counter(
        [
            "budget:alpha-protected:2026-11-01:100",
            "budget:beta-monthly:2026-11-01:50",
            "budget:beta-monthly:2026-11-01:80",
            "budget:beta-monthly:2026-11-01:100",
            *alert_keys,
        ]
    )
