"""A month of demo-like traffic with an injected spike, an over-budget team and a failing deployment raises exactly
the expected budget crossings and alerts (tests/unit/finops/month.py plants them)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.unit.finops import month as m

# Hand arithmetic from the test price sheet (tests/unit/aggregator/pricing_fixture.py), per call of 100,000 prompt
# and 20,000 completion tokens: gpt-4.1 0.36 until 2026-11-14, 0.324 from 11-15 (price change); o4-mini 0.198.
GPT_BEFORE, GPT_AFTER, MINI = Decimal("0.36"), Decimal("0.324"), Decimal("0.198")


def beta_day(day: date) -> Decimal:
    gpt = GPT_BEFORE if day < date(2026, 11, 15) else GPT_AFTER
    mini_calls = 15 if day == m.FAILING_DAY else 20  # a quarter of o4-mini's calls failed without usage
    return 20 * gpt + mini_calls * MINI


def _sql(env: dict[str, str], query: str) -> list[tuple]:
    from aggregator.settings import AggregatorSettings
    from aggregator.views import lake_connection
    from schemas.lake import open_location

    con = lake_connection(
        open_location(env["CHARGEBACK_LAKE_URL"]), AggregatorSettings(price_sheet=env["CHARGEBACK_PRICE_SHEET"])
    )
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_budget_status_at_month_end(invoke, month):
    result = invoke(["budgets", "evaluate", "--as-of", "2026-11-30"], month)
    assert result.exit_code == 0, result.output
    rows = {
        r[0]: r
        for r in _sql(
            month,
            "SELECT budget_id, spend, crossed, crossed_on, forecast, forecast_method, "
            "used_pct, unpriced_tokens, protected, period_start, period_end, token_cost, ptu_cost "
            "FROM budget_status WHERE as_of = DATE '2026-11-30'",
        )
    }
    assert set(rows) == {"beta-monthly", "gamma-monthly", "alpha-protected"}
    beta = rows["beta-monthly"]
    expected_spend = sum(beta_day(m.FIRST + timedelta(days=n)) for n in range(m.DAYS))
    assert beta[1] == expected_spend == Decimal("322.29")
    assert beta[2] == [50, 80, 100]
    assert beta[3] == [date(2026, 11, 14), date(2026, 11, 23), date(2026, 11, 28)]
    assert beta[4] == beta[1] and beta[5] == "run_rate_7d"  # the last day: nothing left to forecast
    assert beta[9:11] == (date(2026, 11, 1), date(2026, 12, 1))
    assert beta[11] == expected_spend and beta[12] == 0
    assert rows["gamma-monthly"][2] == []
    assert rows["alpha-protected"][8] is True and rows["alpha-protected"][2] == [100]


def test_budget_forecast_mid_month_states_its_method(invoke, month):
    assert invoke(["budgets", "evaluate", "--as-of", "2026-11-20"], month).exit_code == 0
    ((spend, forecast, elapsed, total),) = _sql(
        month,
        "SELECT spend, forecast, days_elapsed, days_in_period FROM budget_status WHERE budget_id = 'beta-monthly'",
    )
    days = [m.FIRST + timedelta(days=n) for n in range(20)]
    assert spend == sum(beta_day(d) for d in days)
    run_rate = sum(beta_day(d) for d in days[-7:]) / 7
    assert forecast == spend + (run_rate * 10).quantize(Decimal("1e-14"))
    assert (elapsed, total) == (20, 30)


def test_alerts_over_the_month_are_exactly_the_planted_ones(invoke, month):
    result = invoke(["alerts", "evaluate", "--as-of", "2026-11-30", "--days", "29"], month)
    assert result.exit_code == 0, result.output
    alerts = _sql(month, "SELECT date, rule, scope, severity FROM alerts ORDER BY date, rule, scope")
    assert alerts == [
        (m.SPIKE_DAY, "cost_spike", "all", "warning"),  # the estate's pay-as-you-go cost too
        (m.SPIKE_DAY, "cost_spike", "team=alpha", "warning"),
        (m.FAILING_DAY, "error_rate_5xx", "deployment=o4-mini", "critical"),
    ]
    ((actual, expected, threshold, provisional),) = _sql(
        month, "SELECT actual, expected, threshold, provisional FROM alerts WHERE scope = 'team=alpha'"
    )
    # baseline: the 14 days before the spike, 11-06..11-19: nine at the old gpt-4.1 price, five at the new one
    baseline = sorted([float(20 * GPT_BEFORE + 20 * MINI)] * 9 + [float(20 * GPT_AFTER + 20 * MINI)] * 5)
    median = baseline[7]  # the MAD is 0 (nine equal values), so the floor of $10 decides the threshold
    assert actual == pytest.approx(float(200 * GPT_AFTER + 20 * MINI))
    assert expected == pytest.approx(median) and threshold == pytest.approx(median + 10)
    assert provisional is False  # November is long closed


def test_re_evaluating_is_reproducible(invoke, month):
    args = ["alerts", "evaluate", "--as-of", "2026-11-25", "--days", "0"]
    assert invoke(args, month).exit_code == 0
    first = _sql(month, "SELECT * FROM alerts ORDER BY alert_id")
    assert invoke(args, month).exit_code == 0
    assert _sql(month, "SELECT * FROM alerts ORDER BY alert_id") == first and len(first) == 1


def test_tuned_rules_fire_and_stay_silent_as_configured(invoke, month):
    env = month | {
        "CHARGEBACK_ALERT_ERROR_MIN_REQUESTS": "100",  # o4-mini makes only 60 calls a day: below the minimum
        "CHARGEBACK_ALERT_LATENCY_P95_MS": "100",  # every call takes 120 ms
        "CHARGEBACK_ALERT_LATENCY_MIN_REQUESTS": "1",
        "CHARGEBACK_ALERT_COST_FLOOR": "1000",  # the spike is $45: under the floor
    }
    assert invoke(["alerts", "evaluate", "--as-of", "2026-11-25", "--days", "5"], env).exit_code == 0
    rules = _sql(month, "SELECT DISTINCT rule, scope FROM alerts ORDER BY ALL")
    assert rules == [("latency_p95", "deployment=gpt-4.1"), ("latency_p95", "deployment=o4-mini")]


def test_a_bad_rule_setting_is_one_line_exit_3(invoke, month):
    result = invoke(["alerts", "evaluate", "--as-of", "2026-11-25"], month | {"CHARGEBACK_ALERT_ERROR_RATE_PCT": "-5"})
    assert result.exit_code == 3 and "CHARGEBACK_ALERT_ERROR_RATE_PCT" in result.output
    assert invoke(["alerts", "evaluate", "--as-of", "2026-11-31"], month).exit_code == 2


def test_a_missing_lake_is_exit_4(invoke, month, tmp_path):
    result = invoke(
        ["alerts", "evaluate", "--as-of", "2026-11-25"], month | {"CHARGEBACK_LAKE_URL": str(tmp_path / "no")}
    )
    assert result.exit_code == 4, result.output


def test_the_sql_command_sees_the_new_tables(invoke, month):
    assert invoke(["budgets", "evaluate", "--as-of", "2026-11-30"], month).exit_code == 0
    result = invoke(["sql", "SELECT budget_id FROM budget_status ORDER BY 1", "--format", "json"], month)
    assert result.exit_code == 0, result.output
    assert [r["budget_id"] for r in json.loads(result.output)] == ["alpha-protected", "beta-monthly", "gamma-monthly"]
    for table in ("alerts", "budget_actions", "notifications"):
        result = invoke(["sql", f"SELECT count(*) AS n FROM {table}", "--format", "json"], month)
        assert json.loads(result.output) == [{"n": 0}]


def test_unpriced_usage_is_shown_beside_never_as_zero_cost(invoke, month, tmp_path):
    from datetime import UTC, datetime

    from aggregator.aggregate import aggregate_days
    from aggregator.lakeio import open_lake
    from aggregator.settings import AggregatorSettings
    from schemas.lake import open_location
    from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row

    day = date(2026, 11, 30)
    LakeBuilder(open_location(month["CHARGEBACK_LAKE_URL"])).usage(
        [
            usage_row(
                when=datetime(2026, 11, 30, 9, tzinfo=UTC),
                deployment="mystery",
                model="mystery",
                team="beta",
                subscription="sub-beta",
                prompt=700_000,
                completion=300_000,
            )
            for _ in range(3)
        ]
    )
    settings = AggregatorSettings(
        price_sheet=month["CHARGEBACK_PRICE_SHEET"],
        deployments_config=month["CHARGEBACK_DEPLOYMENTS_CONFIG"],
        ptu_config=month["CHARGEBACK_PTU_CONFIG"],
        teams_config=month["CHARGEBACK_TEAMS_CONFIG"],
    )
    aggregate_days(open_lake(month["CHARGEBACK_LAKE_URL"]), [day], settings)
    assert invoke(["budgets", "evaluate", "--as-of", "2026-11-30"], month).exit_code == 0
    ((spend, tokens, requests),) = _sql(
        month, "SELECT spend, unpriced_tokens, unpriced_requests FROM budget_status WHERE budget_id = 'beta-monthly'"
    )
    assert spend == Decimal("322.29") and (tokens, requests) == (3_000_000, 3)
    assert invoke(["alerts", "evaluate", "--as-of", "2026-11-30", "--days", "0"], month).exit_code == 0
    assert _sql(month, "SELECT rule, scope FROM alerts") == [("unpriced_share", "all")]


def test_the_report_section_shows_budget_versus_actual_and_the_month_alerts(invoke, month):
    from aggregator.settings import AggregatorSettings
    from aggregator.views import lake_connection
    from finops.report import finops_sections
    from schemas.lake import open_location

    settings = AggregatorSettings(price_sheet=month["CHARGEBACK_PRICE_SHEET"])
    empty = lake_connection(open_location(month["CHARGEBACK_LAKE_URL"]), settings)
    with empty:
        assert "No budget was evaluated" in finops_sections(empty, date(2026, 11, 1))
    for day in ("2026-11-20", "2026-11-30"):
        assert invoke(["budgets", "evaluate", "--as-of", day], month).exit_code == 0
    assert invoke(["alerts", "evaluate", "--as-of", "2026-11-30", "--days", "29"], month).exit_code == 0
    con = lake_connection(open_location(month["CHARGEBACK_LAKE_URL"]), settings)
    with con:
        html = finops_sections(con, date(2026, 11, 1))
        december = finops_sections(con, date(2026, 12, 1))
    assert "<td>beta-monthly</td><td>team=beta</td>" in html
    assert '<td class="n">322.29</td><td class="n">107.4%</td>' in html  # the latest evaluation (11-30) wins
    assert "<td>50%/80%/100%</td>" in html
    assert "<td>cost_spike</td><td>team=alpha</td>" in html and "<td>error_rate_5xx</td>" in html
    assert "No budget was evaluated" in december and "No alert this month" in december


def test_the_report_command_carries_the_budget_and_alert_sections(invoke, month, tmp_path):
    assert invoke(["budgets", "evaluate", "--as-of", "2026-11-30"], month).exit_code == 0
    assert invoke(["alerts", "evaluate", "--as-of", "2026-11-30", "--days", "29"], month).exit_code == 0
    out = tmp_path / "report.html"
    result = invoke(["report", "--month", "2026-11", "--out", str(out)], month)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.index('<h2 id="budgets">') < html.index('<h2 id="alerts">') < html.rindex("<script>")
    assert "<td>beta-monthly</td>" in html and "<td>error_rate_5xx</td>" in html


def test_hostile_names_in_the_ledger_are_escaped_in_the_report(tmp_path):
    from aggregator.settings import AggregatorSettings
    from aggregator.views import lake_connection
    from finops.alerts import Alert
    from finops.ledger import write_partition
    from finops.report import finops_sections
    from schemas.lake import open_location

    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    evil = "deployment=<img src=x onerror=alert(1)>"
    row = Alert("latency_p95", evil, "p95_ms", 9000.0, None, 2000.0, "warning", "<b>detail</b>").row(
        date(2026, 11, 3), False
    )
    write_partition(location, "alerts", "2026-11-03", [row])
    with lake_connection(location, AggregatorSettings()) as con:
        html = finops_sections(con, date(2026, 11, 1))
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;b&gt;detail" in html
