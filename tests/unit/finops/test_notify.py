"""Webhooks against a real local HTTP server: formats, retries, deduplication, delivery records, no secret leaks."""

from __future__ import annotations

import json

import pytest

from tests.unit.finops.http_recorder import HttpRecorder
from tests.unit.finops.test_scenario import _sql

SECRET = "T000/B000/XXXXsecretXXXX"


def _env(month, *hooks, **extra):
    return (
        month
        | {
            "CHARGEBACK_WEBHOOKS": json.dumps(list(hooks)),
            "CHARGEBACK_WEBHOOK_BACKOFF_SECONDS": "0",
            "CHARGEBACK_LATE_DATA_DAYS": "29",  # notify considers the alerts of the whole month
        }
        | extra
    )


def _evaluate(invoke, month):
    assert invoke(["budgets", "evaluate", "--as-of", "2026-11-30"], month).exit_code == 0
    assert invoke(["alerts", "evaluate", "--as-of", "2026-11-30", "--days", "29"], month).exit_code == 0


EXPECTED_KEYS = {
    "budget:alpha-protected:2026-11-01:100",
    "budget:beta-monthly:2026-11-01:50",
    "budget:beta-monthly:2026-11-01:80",
    "budget:beta-monthly:2026-11-01:100",
}


def test_each_crossing_and_alert_is_delivered_once_in_each_format(invoke, month):
    _evaluate(invoke, month)
    with HttpRecorder() as server:
        hooks = [
            {"name": "ops", "format": "generic", "url": f"{server.url}/generic/{SECRET}"},
            {"name": "slack", "format": "slack", "url": f"{server.url}/slack/{SECRET}"},
            {"name": "teams", "format": "teams", "url": f"{server.url}/teams/{SECRET}", "min_severity": "critical"},
        ]
        env = _env(month, *hooks)
        result = invoke(["notify", "--as-of", "2026-11-30"], env)
        assert result.exit_code == 0, result.output
        generic = [r.json() for r in server.requests if r.path.startswith("/generic/")]
        alert_keys = {k for (k,) in _sql(month, "SELECT 'alert:' || alert_id FROM alerts")}
        assert len(alert_keys) == 3
        assert {b["dedup_key"] for b in generic} == EXPECTED_KEYS | alert_keys
        assert len(generic) == 7
        beta = next(b for b in generic if b["dedup_key"] == "budget:beta-monthly:2026-11-01:100")
        assert beta["severity"] == "critical" and beta["kind"] == "budget" and "322.29 of 300.00 USD" in beta["text"]
        slack = [r.json() for r in server.requests if r.path.startswith("/slack/")]
        assert len(slack) == 7 and all(b["text"].startswith("[") and b["blocks"] for b in slack)
        teams = [r.json() for r in server.requests if r.path.startswith("/teams/")]
        # critical only: beta 100%, alpha 100%, the 5xx alert (25% > 2 x 5%)
        assert len(teams) == 3
        card = teams[0]["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert card["content"]["type"] == "AdaptiveCard"
        assert all(r.headers["Content-Type"] == "application/json" for r in server.requests)

        sent = len(server.requests)
        again = invoke(["notify", "--as-of", "2026-11-30"], env)
        assert again.exit_code == 0 and "0 notifications delivered" in again.output
        assert len(server.requests) == sent  # deduplicated per alert and channel
    rows = _sql(month, "SELECT channel, status, attempts, host FROM notifications")
    assert len(rows) == 17 and {r[1] for r in rows} == {"delivered"} and {r[3] for r in rows} == {"127.0.0.1"}


def test_transient_failures_are_retried_and_every_delivery_recorded(invoke, month):
    _evaluate(invoke, month)
    with HttpRecorder(fail_first=2) as server:
        env = _env(month, {"name": "ops", "url": f"{server.url}/hook/{SECRET}", "min_severity": "critical"})
        assert invoke(["notify", "--as-of", "2026-11-30"], env).exit_code == 0
    rows = _sql(month, "SELECT dedup_key, attempts, status, http_status FROM notifications ORDER BY sent_at")
    assert rows[0][1:] == (3, "delivered", 200)
    assert [r[1] for r in rows[1:]] == [1, 1]
    assert len(server.requests) == 5
    assert server.requests[0].body == server.requests[2].body  # the same notice, retried


def test_a_channel_that_keeps_failing_is_recorded_and_retried_next_run_without_leaking_its_url(invoke, month):
    _evaluate(invoke, month)
    with HttpRecorder(fail_first=100) as server:
        env = _env(
            month,
            {"name": "ops", "url": f"{server.url}/hook/{SECRET}", "min_severity": "critical"},
            CHARGEBACK_WEBHOOK_ATTEMPTS="2",
        )
        result = invoke(["notify", "--as-of", "2026-11-30"], env)
        assert result.exit_code == 5
        assert len(server.requests) == 6  # 3 notices x 2 attempts
        server.fail_first = 0
        assert invoke(["notify", "--as-of", "2026-11-30"], env).exit_code == 0
        assert len(server.requests) == 9
    rows = _sql(month, "SELECT status, attempts, http_status, error FROM notifications ORDER BY sent_at")
    assert [r[0] for r in rows] == ["failed"] * 3 + ["delivered"] * 3
    assert rows[0][1:] == (2, 503, "HTTP 503 after 2 attempts")
    everything = result.output + json.dumps(_sql(month, "SELECT * EXCLUDE (sent_at) FROM notifications"), default=str)
    assert SECRET not in everything


def test_a_client_error_is_not_retried_and_an_unreachable_host_is_named_without_its_path(invoke, month):
    _evaluate(invoke, month)
    with HttpRecorder(responder=lambda _r: (400, {}, b"bad payload")) as server:
        env = _env(month, {"name": "ops", "url": f"{server.url}/{SECRET}", "min_severity": "critical"})
        assert invoke(["notify", "--as-of", "2026-11-30"], env).exit_code == 5
        assert len(server.requests) == 3
        dead = server.url
    env = _env(
        month, {"name": "gone", "url": f"{dead}/{SECRET}", "min_severity": "critical"}, CHARGEBACK_WEBHOOK_ATTEMPTS="2"
    )
    result = invoke(["notify", "--as-of", "2026-11-30"], env)
    assert result.exit_code == 5 and SECRET not in result.output
    errors = {e for (e,) in _sql(month, "SELECT DISTINCT error FROM notifications")}
    assert errors == {"HTTP 400 (not retried)", "ConnectionError after 2 attempts"}


@pytest.mark.parametrize(
    "hooks",
    [
        '[{"name": "x", "url": "ftp://example.com/"}]',
        '[{"name": "bad name!", "url": "https://example.com/"}]',
        '[{"name": "x", "url": "https://example.com/", "format": "discord"}]',
        "not json",
    ],
)
def test_a_bad_webhook_setting_is_exit_3_without_echoing_the_url(invoke, month, hooks):
    result = invoke(["notify", "--as-of", "2026-11-30"], month | {"CHARGEBACK_WEBHOOKS": hooks})
    assert result.exit_code == 3, result.output
    assert "CHARGEBACK_WEBHOOKS" in result.output and "Traceback" not in result.output
    assert "example.com" not in result.output


def test_slack_control_characters_from_the_ledger_are_escaped():
    from datetime import date

    from finops.notify import Notice, body

    notice = Notice(
        "alert:x", "alert", "warning", "latency_p95 on deployment=<!channel>", "a & <b>", "s", date(2026, 11, 1), False
    )
    slack = body(notice, "slack")
    assert "<!channel>" not in slack["text"] and "&lt;!channel&gt;" in slack["text"]
    assert slack["blocks"][1]["text"]["text"].endswith("a &amp; &lt;b&gt;")
    assert body(notice, "generic")["title"] == notice.title  # JSON carries it as data, unchanged
