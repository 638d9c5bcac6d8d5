"""`chargeback alerts evaluate`: the alert rules, evaluated on whole UTC days of the ledger.

Each rule is a function `(con, day, rules) -> list[Alert]`, listed in `RULES`. Cost rules read `chargeback_daily`;
traffic rules read the deduplicated `usage` view of the one day (partition-pruned by `event_date`); data-quality
rules read `chargeback_daily`, `usage` and `dead_letters`. A rule that fires gives one `alerts` row per scope.

Hook: reconciliation divergence (usage records vs APIM's own LLM logs) needs the LLM-log source, which does not
exist yet. `reconciliation_divergence` is where it goes; it runs only when an `llm_logs` view exists and until
then returns nothing (the README says so).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb

from finops.baselines import robust_baseline, spike_threshold
from finops.settings import AlertRules


@dataclass(frozen=True)
class Alert:
    rule: str
    scope: str
    metric: str
    actual: float
    expected: float | None
    threshold: float
    severity: str
    detail: str

    def row(self, day: date, provisional: bool) -> dict:
        return {
            "date": day,
            "alert_id": alert_id(self.rule, self.scope, day),
            "rule": self.rule,
            "scope": self.scope,
            "metric": self.metric,
            "actual": self.actual,
            "expected": self.expected,
            "threshold": self.threshold,
            "severity": self.severity,
            "provisional": provisional,
            "detail": self.detail,
        }


def alert_id(rule: str, scope: str, day: date) -> str:
    """Stable across re-runs: the notification of an alert is deduplicated by it."""
    return hashlib.sha256(f"{rule}|{scope}|{day.isoformat()}".encode()).hexdigest()[:20]


Rule = Callable[[duckdb.DuckDBPyConnection, date, AlertRules], list[Alert]]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[tuple]:
    return con.execute(sql, params).fetchall()


def cost_spike(con: duckdb.DuckDBPyConnection, day: date, rules: AlertRules) -> list[Alert]:
    """Daily pay-as-you-go cost (`token_cost`) per team (and in total) above its robust baseline over the previous
    `baseline_days` ledger days.

    Fires when cost > median x (1 + cost_increase_pct%), and cost - median >= cost_floor, and cost - median >
    cost_mad_k x 1.4826 x MAD. Days of the ledger where a team spent nothing count as 0 in its baseline. PTU shares
    are left out: they re-divide a fixed daily cost by token share, so a team's share can jump without the bill
    moving (and idle PTU has no team); budgets count them, this rule does not.
    """
    first = day - timedelta(days=rules.baseline_days)
    data = _rows(
        con,
        "SELECT date, coalesce(team, '(none)') AS team, sum(coalesce(token_cost, 0))::DOUBLE AS cost, "
        "any_value(currency) AS currency FROM chargeback_daily WHERE date >= $first AND date <= $day GROUP BY ALL",
        {"first": first, "day": day},
    )
    ledger_days = sorted({d for d, *_ in data if d < day})
    if len(ledger_days) < rules.min_baseline_days or not any(d == day for d, *_ in data):
        return []
    series: dict[str, dict[date, float]] = {}
    currency = next((c for *_, c in data if c), "")
    for d, team, cost, _currency in data:
        series.setdefault(f"team={team}", {})[d] = cost
        totals = series.setdefault("all", {})
        totals[d] = totals.get(d, 0.0) + cost
    alerts = []
    for scope, by_day in sorted(series.items()):
        actual = by_day.get(day, 0.0)
        centre, spread = robust_baseline([by_day.get(d, 0.0) for d in ledger_days])
        limit = spike_threshold(
            centre, spread, increase_pct=rules.cost_increase_pct, floor=float(rules.cost_floor), k=rules.cost_mad_k
        )
        if actual > limit:
            alerts.append(
                Alert(
                    "cost_spike",
                    scope,
                    "daily_token_cost",
                    actual,
                    centre,
                    limit,
                    "warning",
                    f"{actual:.2f} {currency} vs median {centre:.2f} of {len(ledger_days)} days (MAD-scaled "
                    f"{spread:.2f}); alerts above +{rules.cost_increase_pct:g}%, +{rules.cost_floor} and "
                    f"{rules.cost_mad_k:g} MAD",
                )
            )
    return alerts


TRAFFIC_SQL = """
SELECT coalesce(deployment, '(none)') AS deployment, count(*) AS requests,
    count(*) FILTER (WHERE status_code = 429) AS throttled,
    count(*) FILTER (WHERE status_code >= 500) AS server_errors,
    quantile_cont(duration_ms, 0.95) AS p95_ms,
    count(*) FILTER (WHERE status_code < 400) AS successful,
    count(*) FILTER (WHERE status_code < 400 AND prompt_tokens IS NULL AND completion_tokens IS NULL
                     AND total_tokens IS NULL) AS without_usage
FROM usage WHERE event_date = $day GROUP BY ALL ORDER BY deployment
"""


def traffic(con: duckdb.DuckDBPyConnection, day: date, rules: AlertRules) -> list[Alert]:
    """Per deployment: 429 rate and 5xx rate (apart) above error_rate_pct from error_min_requests calls; p95
    latency above latency_p95_ms from latency_min_requests calls; successful calls without usage above
    no_usage_pct from error_min_requests calls."""
    alerts = []
    limit = rules.error_rate_pct / 100
    for deployment, requests, throttled, server_errors, p95, successful, without_usage in _rows(
        con, TRAFFIC_SQL, {"day": day}
    ):
        scope = f"deployment={deployment}"
        if requests >= rules.error_min_requests:
            for rule, count, what in (("error_rate_429", throttled, "429"), ("error_rate_5xx", server_errors, "5xx")):
                rate = count / requests
                if rate > limit:
                    severity = "critical" if rate > 2 * limit else "warning"
                    alerts.append(
                        Alert(rule, scope, "error_rate", rate, None, limit, severity, f"{count} {what} of {requests}")
                    )
        if requests >= rules.latency_min_requests and p95 is not None and p95 > rules.latency_p95_ms:
            alerts.append(
                Alert(
                    "latency_p95",
                    scope,
                    "p95_ms",
                    float(p95),
                    None,
                    rules.latency_p95_ms,
                    "warning",
                    f"p95 {p95:.0f} ms over {requests} calls",
                )
            )
        if successful >= rules.error_min_requests and without_usage / successful > rules.no_usage_pct / 100:
            share = without_usage / successful
            alerts.append(
                Alert(
                    "calls_without_usage",
                    scope,
                    "share",
                    share,
                    None,
                    rules.no_usage_pct / 100,
                    "warning",
                    f"{without_usage} of {successful} successful calls carried no token usage",
                )
            )
    return alerts


PEAK_RPM_SQL = """
SELECT event_date, deployment, max(n) AS peak FROM (
    SELECT event_date, coalesce(deployment, '(none)') AS deployment, date_trunc('minute', event_time) AS minute,
        count(*) AS n
    FROM usage WHERE event_date >= $first AND event_date <= $day GROUP BY ALL)
GROUP BY ALL
"""


def request_rate(con: duckdb.DuckDBPyConnection, day: date, rules: AlertRules) -> list[Alert]:
    """Peak requests in one minute per deployment: at least rpm_max always alerts; above rpm_spike_factor x the
    median of the previous days' peaks (with at least rpm_floor requests in that minute) alerts as a spike."""
    first = day - timedelta(days=rules.baseline_days)
    peaks: dict[str, dict[date, int]] = {}
    for d, deployment, peak in _rows(con, PEAK_RPM_SQL, {"first": first, "day": day}):
        peaks.setdefault(deployment, {})[d] = peak
    alerts = []
    for deployment, by_day in sorted(peaks.items()):
        actual = by_day.get(day)
        if actual is None:
            continue
        history = [v for d, v in by_day.items() if d < day]
        centre = robust_baseline(history)[0] if len(history) >= rules.min_baseline_days else None
        spike = centre is not None and actual >= rules.rpm_floor and actual > rules.rpm_spike_factor * centre
        if actual >= rules.rpm_max or spike:
            limit = float(rules.rpm_max) if not spike else rules.rpm_spike_factor * (centre or 0.0)
            alerts.append(
                Alert(
                    "request_rate_spike",
                    f"deployment={deployment}",
                    "peak_requests_per_minute",
                    float(actual),
                    centre,
                    limit,
                    "warning",
                    f"peak {actual}/min"
                    + (f" vs median daily peak {centre:g}/min" if centre is not None else "")
                    + f"; always alerts at {rules.rpm_max}/min",
                )
            )
    return alerts


AUTH_SQL = """
SELECT coalesce(subscription_id, '(anonymous)') AS subscription, epoch(event_time)::BIGINT // 3600 AS hour,
    count(*) AS failures
FROM usage WHERE event_date = $day AND status_code IN (401, 403) GROUP BY ALL
"""


def auth_failures(con: duckdb.DuckDBPyConnection, day: date, rules: AlertRules) -> list[Alert]:
    """A burst of 401/403: at least auth_failures_per_hour in one clock hour for one subscription (or anonymous)."""
    worst: dict[str, tuple[int, int]] = {}
    for subscription, hour, failures in _rows(con, AUTH_SQL, {"day": day}):
        if failures > worst.get(subscription, (0, 0))[0]:
            worst[subscription] = (failures, hour)
    return [
        Alert(
            "auth_failures",
            f"subscription={subscription}",
            "failures_per_hour",
            float(failures),
            None,
            float(rules.auth_failures_per_hour),
            "critical",
            f"{failures} calls answered 401/403 in the hour from {datetime.fromtimestamp(hour * 3600, UTC):%H:%M} UTC",
        )
        for subscription, (failures, hour) in sorted(worst.items())
        if failures >= rules.auth_failures_per_hour
    ]


def unpriced_share(con: duckdb.DuckDBPyConnection, day: date, rules: AlertRules) -> list[Alert]:
    """Share of the day's tokens the roll-up could not price above unpriced_share_pct (they have no cost)."""
    found = con.execute(
        "SELECT coalesce(sum(total_tokens), 0), coalesce(sum(total_tokens) FILTER (WHERE pricing_status = "
        "'unpriced'), 0) FROM chargeback_daily WHERE date = $day",
        {"day": day},
    ).fetchone()
    total, unpriced = (int(found[0]), int(found[1])) if found else (0, 0)
    if not total or unpriced / total <= rules.unpriced_share_pct / 100:
        return []
    deployments = ", ".join(
        d or "(none)"
        for (d,) in _rows(
            con,
            "SELECT DISTINCT deployment FROM chargeback_daily WHERE date = $day AND pricing_status = 'unpriced' "
            "ORDER BY 1 NULLS FIRST LIMIT 10",
            {"day": day},
        )
    )
    return [
        Alert(
            "unpriced_share",
            "all",
            "share",
            unpriced / total,
            None,
            rules.unpriced_share_pct / 100,
            "warning",
            f"{unpriced} of {total} tokens unpriced (deployments: {deployments}); see the unpriced table",
        )
    ]


def dead_letters(con: duckdb.DuckDBPyConnection, day: date, rules: AlertRules) -> list[Alert]:
    """At least `dead_letters` messages the consumer rejected on the day (by enqueued day)."""
    by_reason = _rows(
        con,
        "SELECT reason, count(*) FROM dead_letters WHERE event_date = $day GROUP BY 1 ORDER BY 2 DESC",
        {"day": day},
    )
    count = sum(n for _, n in by_reason)
    if count < rules.dead_letters:
        return []
    reasons = ", ".join(f"{n} {reason}" for reason, n in by_reason)
    return [Alert("dead_letters", "all", "messages", float(count), None, float(rules.dead_letters), "warning", reasons)]


def reconciliation_divergence(con: duckdb.DuckDBPyConnection, day: date, rules: AlertRules) -> list[Alert]:
    """Hook: usage records vs APIM's LLM logs. No LLM-log source exists yet, so there is nothing to compare."""
    views = {name for (name,) in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    if "llm_logs" not in views:
        return []
    raise NotImplementedError("an llm_logs view exists but reconciliation_divergence has not been written")


RULES: tuple[Rule, ...] = (
    cost_spike,
    traffic,
    request_rate,
    auth_failures,
    unpriced_share,
    dead_letters,
    reconciliation_divergence,
)


def evaluate_alerts(con: duckdb.DuckDBPyConnection, day: date, rules: AlertRules, *, provisional: bool) -> list[dict]:
    """Every rule on `day`: its `alerts` rows, ordered by rule then scope."""
    found = [alert for rule in RULES for alert in rule(con, day, rules)]
    return [a.row(day, provisional) for a in sorted(found, key=lambda a: (a.rule, a.scope))]
