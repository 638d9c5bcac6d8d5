"""`chargeback budgets evaluate`: spend to date, forecast and threshold crossings of every budget in force.

Spend comes from `chargeback_daily` only (the immutable ledger): token cost plus the PTU share allocated to the
scope, in the budget's currency; usage that could not be priced is counted beside it (`unpriced_tokens`,
`unpriced_requests`), never as zero cost. A token budget counts `total_tokens` of every row, priced or not.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from finops.budgets_file import Budget, in_force
from finops.ledger import is_provisional, scope_filter
from finops.periods import crossings, forecast, window

LEDGER_TABLE = "_budget_ledger"
LEDGER_SQL = f"""
CREATE OR REPLACE TEMP TABLE {LEDGER_TABLE} AS
SELECT date, team, subscription_id, product_id, deployment, tags, currency, pricing_status,
    sum(token_cost) AS token_cost, sum(ptu_cost) AS ptu_cost, sum(total_tokens) AS total_tokens,
    sum(requests) AS requests, count(*) AS rows
FROM chargeback_daily WHERE date >= $first AND date <= $as_of
GROUP BY ALL
"""
"""The ledger rows every budget window needs, read from the lake once (a budget scans this, not the lake)."""

DAILY_SQL = f"""
SELECT date,
    coalesce(sum(token_cost) FILTER (WHERE currency = $currency), 0) AS token_cost,
    coalesce(sum(ptu_cost) FILTER (WHERE currency = $currency), 0) AS ptu_cost,
    coalesce(sum(total_tokens), 0) AS tokens,
    coalesce(sum(total_tokens) FILTER (WHERE pricing_status = 'unpriced'), 0) AS unpriced_tokens,
    coalesce(sum(requests) FILTER (WHERE pricing_status = 'unpriced'), 0) AS unpriced_requests,
    coalesce(sum(rows) FILTER (WHERE currency IS NOT NULL AND currency <> $currency), 0) AS other_currency_rows
FROM {LEDGER_TABLE}
WHERE date >= $start AND date <= $as_of AND {{condition}}
GROUP BY date
"""


def _daily(con: duckdb.DuckDBPyConnection, budget: Budget, start: date, as_of: date) -> list[tuple]:
    condition, params = scope_filter(budget.scope)
    named = {"currency": budget.unit, "start": start, "as_of": as_of, **params}
    return con.execute(DAILY_SQL.format(condition=condition), named).fetchall()


def evaluate_budgets(
    con: duckdb.DuckDBPyConnection,
    budgets: list[Budget],
    as_of: date,
    *,
    today: date,
    late_data_days: int,
    config_digest: str,
) -> list[dict]:
    """One `budget_status` row per budget version in force on `as_of` whose period contains it."""
    rows: list[dict] = []
    provisional = is_provisional(as_of, today, late_data_days)
    active = [(b, span) for b in in_force(budgets, as_of) if (span := window(b.period, as_of)) is not None]
    if not active:
        return rows
    con.execute(LEDGER_SQL, {"first": min(span[0] for _, span in active), "as_of": as_of})
    for budget, span in active:
        start, end = span
        daily_rows = _daily(con, budget, start, as_of)
        spend_by_day: dict[date, Decimal] = {}
        token_cost = ptu_cost = Decimal(0)
        unpriced_tokens = unpriced_requests = other_rows = 0
        for day, day_token_cost, day_ptu_cost, tokens, d_unpriced, d_unpriced_req, d_other in daily_rows:
            token_cost += day_token_cost
            ptu_cost += day_ptu_cost
            unpriced_tokens += d_unpriced
            unpriced_requests += d_unpriced_req
            other_rows += d_other
            spend_by_day[day] = Decimal(tokens) if budget.is_tokens else day_token_cost + day_ptu_cost
        outlook = forecast(spend_by_day, start, end, as_of)
        reached = crossings(spend_by_day, start, as_of, budget.amount, budget.thresholds)
        rows.append(
            {
                "as_of": as_of,
                "budget_id": budget.budget_id,
                "scope": str(budget.scope),
                "scope_type": budget.scope.kind,
                "scope_value": budget.scope.value,
                "period": budget.period.label(),
                "period_start": start,
                "period_end": end,
                "unit": budget.unit,
                "amount": budget.amount,
                "token_cost": Decimal(0) if budget.is_tokens else token_cost,
                "ptu_cost": Decimal(0) if budget.is_tokens else ptu_cost,
                "spend": outlook.spend,
                "unpriced_tokens": unpriced_tokens,
                "unpriced_requests": unpriced_requests,
                "other_currency_rows": 0 if budget.is_tokens else other_rows,
                "used_pct": float(outlook.spend * 100 / budget.amount),
                "days_elapsed": outlook.days_elapsed,
                "days_in_period": outlook.days_in_period,
                "forecast": outlook.forecast,
                "forecast_method": outlook.method,
                "thresholds": list(budget.thresholds),
                "crossed": [t for t, _ in reached],
                "crossed_on": [d for _, d in reached],
                "action": budget.action,
                "protected": budget.protected,
                "provisional": provisional,
                "config_digest": config_digest,
            }
        )
    return rows


def over_budget(row: dict) -> bool:
    """Spend reached 100% of the amount in the row's period."""
    return row["spend"] >= row["amount"]
