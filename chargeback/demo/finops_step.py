"""The demo's FinOps step: budgets from the month's own numbers, then `budgets evaluate`, `alerts evaluate` and a
dry-run `budgets enforce`, run as a user would run them (child processes), and what they found.

The budgets are set so the biggest team's budget (90% of what it spent) is crossed and every other team stays
within its own (twice what it spent, thresholds 80/100%): the demo shows exactly one budget crossing and the
enforcement it would trigger, without touching any API Management.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

HEADER = "budget_id,scope,period,amount,unit,thresholds,action,effective_from,effective_to,protected\n"
DEMO_LATENCY_MS = "10000"
"""The synthetic calls take up to ~9 s (long completions); the 2 s default would flag every deployment every day."""


def budgets_csv(team_costs: list[tuple[str, Decimal, str]]) -> str:
    """Budgets for the month: the top team at 90% of its cost (crossed), the others at twice theirs (not)."""
    lines = [HEADER]
    for index, (team, cost, currency) in enumerate(sorted(team_costs, key=lambda t: -t[1])):
        factor, thresholds, action = (Decimal("0.9"), "50/80/100", "suspend") if index == 0 else (2, "80/100", "notify")
        amount = (cost * factor).quantize(Decimal("1"), rounding=ROUND_DOWN)
        lines.append(f"{team}-monthly,team={team},month,{amount},{currency},{thresholds},{action},,,false\n")
    return "".join(lines)


def run_finops(
    chargeback: Callable[..., str],
    sql: Callable[[str], list[dict]],
    env: dict[str, str],
    root: Path,
    last_day: date,
    console: Console,
) -> dict[str, str]:
    """Evaluate budgets and alerts for the month ending `last_day`; returns the environment the report should use."""
    teams = sql(
        "SELECT team, sum(total_cost) AS cost, any_value(currency) AS currency FROM chargeback_monthly "
        "WHERE team IS NOT NULL AND total_cost IS NOT NULL GROUP BY team HAVING sum(total_cost) >= 1"
    )
    budgets = root / "budgets.csv"
    budgets.write_text(
        budgets_csv([(str(t["team"]), Decimal(str(t["cost"])), str(t["currency"])) for t in teams]), encoding="utf-8"
    )
    env = env | {"CHARGEBACK_BUDGETS_CONFIG": str(budgets), "CHARGEBACK_ALERT_LATENCY_P95_MS": DEMO_LATENCY_MS}
    logs = root / "logs"
    day = last_day.isoformat()
    chargeback(["budgets", "evaluate", "--as-of", day], env, logs / "budgets.log")
    chargeback(["alerts", "evaluate", "--as-of", day, "--days", str(last_day.day - 1)], env, logs / "alerts.log")
    planned = chargeback(["budgets", "enforce", "--as-of", day], env, logs / "enforce.log", capture=True)

    def query(text: str) -> list[dict]:
        return sql(text)

    status = query(
        "SELECT budget_id, scope, amount, unit, spend, used_pct, forecast, crossed, crossed_on FROM budget_status "
        f"WHERE as_of = DATE '{day}' ORDER BY used_pct DESC"
    )
    table = Table(title=f"Budgets as of {day} (demo-output/budgets.csv)")
    for column in ("budget", "scope", "amount", "spend", "used", "crossed"):
        table.add_column(column, justify="right" if column in ("amount", "spend", "used") else "left")
    for row in status:
        crossed = ", ".join(f"{t}% on {d}" for t, d in zip(row["crossed"], row["crossed_on"], strict=True))
        table.add_row(
            str(row["budget_id"]),
            str(row["scope"]),
            f"{float(row['amount']):,.2f} {row['unit']}",
            f"{float(row['spend']):,.2f}",
            f"{float(row['used_pct']):.1f}%",
            crossed or "-",
        )
    console.print(table)
    over = [r for r in status if 100 in r["crossed"]]
    console.print(f"Budget crossings of 100%: {len(over)} ({', '.join(str(r['budget_id']) for r in over) or 'none'})")
    for line in planned.splitlines():
        if line.startswith("dry_run"):
            console.print(f"  enforcement (dry run, nothing called): {line.removeprefix('dry_run').strip()}")

    alerts = query(
        "SELECT date, severity, rule, scope, detail FROM alerts "
        f"WHERE date >= DATE '{last_day.replace(day=1)}' AND date <= DATE '{day}' ORDER BY date, rule, scope"
    )
    counts = Counter(str(a["rule"]) for a in alerts)
    console.print(
        f"Alerts this month: {len(alerts)} ({', '.join(f'{n} {rule}' for rule, n in counts.most_common()) or 'none'})"
        f"; latency rule at {DEMO_LATENCY_MS} ms for the demo"
    )
    if alerts:
        first = alerts[0]
        console.print(
            f"  first: {first['date']} {first['severity']} {first['rule']} on {first['scope']}: {first['detail']}"
        )
    return env
