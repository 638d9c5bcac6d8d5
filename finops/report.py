"""The FinOps part of the monthly report: budget versus actual per scope and the month's alerts, as HTML sections.

`finops_sections(con, first)` is called by `chargeback report` (aggregator/report.py owns the page and its style:
plain `<h2>`, `<table>` and `td.n` cells). It reads `budget_status` (each budget's latest evaluation within the month)
and `alerts`; a month with neither says so rather than showing an empty table.
"""

from __future__ import annotations

from datetime import date
from html import escape

import duckdb

BUDGETS_SQL = """
SELECT budget_id, scope, period, period_start, period_end, unit, amount, spend, used_pct, forecast, forecast_method,
    crossed, unpriced_tokens, action, protected, provisional, as_of
FROM budget_status
WHERE as_of >= $first AND as_of < $end
QUALIFY row_number() OVER (PARTITION BY budget_id ORDER BY as_of DESC) = 1
ORDER BY used_pct DESC, budget_id
"""

ALERTS_SQL = """
SELECT date, severity, rule, scope, metric, actual, threshold, provisional, detail
FROM alerts WHERE date >= $first AND date < $end
ORDER BY date, CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, rule, scope
"""


def _table(headers: list[str], rows: list[list[object]], numeric: set[int]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(str(v))}</td>' if i in numeric else f"<td>{escape(str(v))}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def finops_sections(con: duckdb.DuckDBPyConnection, first: date) -> str:
    """`<h2>Budgets</h2>` and `<h2>Alerts</h2>` sections for the month starting `first`."""
    params = {"first": first, "end": _next_month(first)}
    budgets = con.execute(BUDGETS_SQL, params).fetchall()
    alerts = con.execute(ALERTS_SQL, params).fetchall()
    parts = ['<h2 id="budgets">Budgets: budget versus actual</h2>']
    if budgets:
        rows = []
        for (
            bid,
            scope,
            period,
            start,
            end,
            unit,
            amount,
            spend,
            used,
            fcast,
            _method,
            crossed,
            unpriced,
            action,
            protected,
            provisional,
            as_of,
        ) in budgets:
            rows.append(
                [
                    bid,
                    scope,
                    f"{period} ({start} to {end})",
                    f"{amount:,.2f} {unit}",
                    f"{spend:,.2f}",
                    f"{used:.1f}%",
                    f"{fcast:,.2f}",
                    "/".join(f"{t}%" for t in crossed) or "-",
                    f"{unpriced:,}" if unpriced else "-",
                    action + (" (protected)" if protected else ""),
                    f"{as_of}" + (" (provisional)" if provisional else ""),
                ]
            )
        parts.append(
            _table(
                [
                    "budget",
                    "scope",
                    "period",
                    "amount",
                    "spend",
                    "used",
                    "forecast",
                    "crossed",
                    "unpriced tokens",
                    "action",
                    "as of",
                ],
                rows,
                {3, 4, 5, 6, 8},
            )
        )
        parts.append(
            f'<p class="note">Spend is token cost plus the PTU share from the daily ledger; unpriced tokens are shown '
            f"beside it, never counted as zero. Forecast: {escape(budgets[0][10])} (spend to date plus the mean of the "
            "last 7 days times the days left).</p>"
        )
    else:
        parts.append('<p class="note">No budget was evaluated this month (chargeback budgets evaluate).</p>')
    parts.append('<h2 id="alerts">Alerts</h2>')
    if alerts:
        parts.append(
            _table(
                ["date", "severity", "rule", "scope", "metric", "actual", "threshold", "detail"],
                [
                    [
                        d,
                        sev + (" (provisional)" if prov else ""),
                        rule,
                        scope,
                        metric,
                        f"{actual:.4g}",
                        f"{threshold:.4g}",
                        detail,
                    ]
                    for d, sev, rule, scope, metric, actual, threshold, prov, detail in alerts
                ],
                {5, 6},
            )
        )
    else:
        parts.append('<p class="note">No alert this month.</p>')
    return "\n".join(parts)


def with_finops_sections(html: str, con: duckdb.DuckDBPyConnection, first: date) -> str:
    """`html` (the monthly report page) with the FinOps sections after its last section, before its scripts."""
    sections = finops_sections(con, first)
    at = html.rfind("<script>")
    if at < 0:
        at = html.rfind("</body>")
    return html + sections if at < 0 else html[:at] + sections + "\n" + html[at:]
