"""The FinOps steps of `chargeback nightly` (aggregator/nightly.py lists them after the roll-up).

Each is `(ctx) -> list[str]` over the job's lake (`ctx.location`), evaluated as of yesterday (UTC): the day the
roll-up has just aggregated. Not configured is not a failure: without CHARGEBACK_BUDGETS_CONFIG the budget steps
say so and do nothing; without CHARGEBACK_WEBHOOKS nothing is sent. Enforcement stays a dry run unless
CHARGEBACK_ENFORCEMENT=enforce.
"""

from __future__ import annotations

from typing import Any

from finops.jobs import run_alerts, run_budgets, run_enforce, run_notify, settings
from finops.ledger import default_as_of


def budgets_step(ctx: Any) -> list[str]:
    if not settings().budgets_config:
        return ["budgets: CHARGEBACK_BUDGETS_CONFIG is not set, nothing to evaluate"]
    rows = run_budgets(default_as_of(), location=ctx.location)
    crossed = sum(len(r["crossed"]) for r in rows)
    return [f"budgets: {len(rows)} evaluated as of {default_as_of()}, {crossed} threshold crossings this period"]


def alerts_step(ctx: Any) -> list[str]:
    result = run_alerts(default_as_of(), location=ctx.location)
    return [f"alerts: {day} {len(rows)} alert(s)" for day, rows in result.items()]


def enforce_step(ctx: Any) -> list[str]:
    config = settings()
    rows = run_enforce(default_as_of(), location=ctx.location, budgets_configured=bool(config.budgets_config))
    if not rows and not config.budgets_config:
        return ["enforce: no budgets, nothing to enforce or undo"]
    outcomes: dict[str, int] = {}
    for row in rows:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "nothing to do"
    return [f"enforce ({config.enforcement}): {summary}"]


def notify_step(ctx: Any) -> list[str]:
    if not settings().webhooks:
        return ["notify: CHARGEBACK_WEBHOOKS is not set, nothing sent"]
    rows = run_notify(default_as_of(), location=ctx.location)
    return [f"notify: {sum(r['status'] == 'delivered' for r in rows)} delivered of {len(rows)}"]
