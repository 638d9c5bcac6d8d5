"""Each traffic and data-quality rule on a small hand-made lake: it fires at its threshold and not below."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aggregator.settings import AggregatorSettings
from aggregator.views import lake_connection
from finops.alerts import auth_failures, dead_letters, reconciliation_divergence, request_rate, traffic
from finops.settings import AlertRules
from schemas.lake import open_location
from tests.unit.aggregator.lake_builder import LakeBuilder, dead_letter_row, usage_row

DAY = date(2026, 11, 10)
NOON = datetime(2026, 11, 10, 12, tzinfo=UTC)
RULES = AlertRules(error_min_requests=100, latency_min_requests=20, min_baseline_days=3, rpm_floor=30)


@pytest.fixture
def lake(tmp_path):
    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    return location


def _con(location):
    return lake_connection(location, AggregatorSettings())


def _calls(n, *, deployment="d", status=200, when=NOON, step=timedelta(seconds=1), duration=100, tokens=True, **kw):
    rows = []
    for i in range(n):
        row = usage_row(
            when=when + i * step,
            deployment=deployment,
            status=status,
            prompt=10 if tokens and status < 400 else None,
            completion=5 if tokens and status < 400 else None,
            **kw,
        )
        row["duration_ms"] = duration
        rows.append(row)
    return rows


def test_429s_and_5xx_are_separate_rules_with_a_minimum_volume(lake):
    builder = LakeBuilder(lake)
    builder.usage(_calls(88, deployment="busy") + _calls(6, deployment="busy", status=429))
    builder.usage(_calls(6, deployment="busy", status=503))
    builder.usage(_calls(40, deployment="small") + _calls(40, deployment="small", status=500))  # 80 < 100 calls
    with _con(lake) as con:
        found = {(a.rule, a.scope): a for a in traffic(con, DAY, RULES)}
    assert set(found) == {("error_rate_429", "deployment=busy"), ("error_rate_5xx", "deployment=busy")}
    assert found["error_rate_429", "deployment=busy"].actual == pytest.approx(0.06)
    assert found["error_rate_5xx", "deployment=busy"].severity == "warning"  # 6% is not above twice 5%


def test_an_error_rate_at_the_threshold_does_not_fire(lake):
    LakeBuilder(lake).usage(_calls(95) + _calls(5, status=429))
    with _con(lake) as con:
        assert traffic(con, DAY, RULES) == []


def test_latency_p95_and_calls_without_usage(lake):
    builder = LakeBuilder(lake)
    builder.usage(_calls(90, deployment="slow", duration=300) + _calls(10, deployment="slow", duration=5000))
    builder.usage(_calls(94, deployment="quiet") + _calls(6, deployment="quiet", tokens=False))
    with _con(lake) as con:
        found = {(a.rule, a.scope): a for a in traffic(con, DAY, RULES)}
    assert set(found) == {("latency_p95", "deployment=slow"), ("calls_without_usage", "deployment=quiet")}
    assert found["latency_p95", "deployment=slow"].actual > 2000
    assert found["calls_without_usage", "deployment=quiet"].actual == pytest.approx(0.06)


def test_request_rate_spike_against_previous_peaks_and_the_absolute_ceiling(lake):
    builder = LakeBuilder(lake)
    for back in range(1, 5):  # four earlier days peaking at 10 requests a minute
        builder.usage(_calls(10, deployment="d", when=NOON - timedelta(days=back), step=timedelta(seconds=5)))
        builder.usage(_calls(10, deployment="e", when=NOON - timedelta(days=back), step=timedelta(seconds=5)))
    builder.usage(_calls(40, deployment="d", step=timedelta(seconds=1)))  # 40 in the minute: > 3 x 10, >= 30
    builder.usage(_calls(25, deployment="e", step=timedelta(seconds=1)))  # 25 > 3 x 10 but under the floor of 30
    with _con(lake) as con:
        found = request_rate(con, DAY, RULES)
        ceiling = request_rate(con, DAY, AlertRules(rpm_max=25, min_baseline_days=3))
    assert [(a.scope, a.actual, a.expected) for a in found] == [("deployment=d", 40.0, 10.0)]
    assert [a.scope for a in ceiling] == ["deployment=d", "deployment=e"]


def test_auth_failure_burst_per_subscription_and_hour(lake):
    builder = LakeBuilder(lake)
    builder.usage(_calls(20, status=401, subscription="leaky", step=timedelta(seconds=30)))  # 20 within the hour
    builder.usage(_calls(20, status=403, subscription="slow", step=timedelta(minutes=5)))  # spread over 2 hours
    with _con(lake) as con:
        found = auth_failures(con, DAY, RULES)
    assert [(a.scope, a.actual, a.severity) for a in found] == [("subscription=leaky", 20.0, "critical")]


def test_dead_letters_by_reason(lake):
    LakeBuilder(lake).dead_letters([dead_letter_row(NOON), dead_letter_row(NOON, "checksum_mismatch")])
    with _con(lake) as con:
        (alert,) = dead_letters(con, DAY, RULES)
        assert dead_letters(con, DAY, AlertRules(dead_letters=3)) == []
        assert dead_letters(con, DAY + timedelta(days=1), RULES) == []
    assert alert.actual == 2 and "1 envelope_not_json" in alert.detail and "1 checksum_mismatch" in alert.detail


def test_the_reconciliation_hook_is_silent_without_an_llm_log_source(lake):
    with _con(lake) as con:
        assert reconciliation_divergence(con, DAY, RULES) == []
