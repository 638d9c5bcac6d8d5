"""`chargeback report`: one self-contained HTML file for a month (inline CSS and SVG; opens without a network).

Sections: cost by team per day (stacked bars) and per team (table), top models and deployments by cost, unpriced
usage (by reason), PTU allocation, dead letters by reason. A small inline script records each chart's rendered
size on the page (`data-rendered-*`), which the browser test reads back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape

import duckdb

from aggregator.charts import horizontal_bars, stacked_bars
from aggregator.dates import month_days, next_month

UNALLOCATED = "(unallocated PTU)"
NO_TEAM = "(no team tag)"

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111827;background:#fff}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #e5e7eb;padding:4px 8px}
th{background:#f3f4f6;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.kpi{display:inline-block;margin:0 24px 12px 0}.kpi b{display:block;font-size:20px}.note{color:#6b7280;font-size:12px}
"""

SCRIPT = """
document.querySelectorAll('svg.chart').forEach(function (svg) {
  var box = svg.getBoundingClientRect();
  var bars = svg.querySelectorAll('rect.bar');
  var drawn = 0;
  bars.forEach(function (bar) { var b = bar.getBBox(); if (b.width > 0 && b.height > 0) { drawn++; } });
  svg.setAttribute('data-rendered-width', Math.round(box.width));
  svg.setAttribute('data-rendered-height', Math.round(box.height));
  svg.setAttribute('data-rendered-bars', drawn);
});
document.body.setAttribute('data-report-ready', 'yes');
"""


@dataclass(frozen=True)
class ReportData:
    month: date
    currency: str
    by_day_team: list[tuple[date, str, Decimal]]
    by_team: list[tuple[str, Decimal, int, int, int]]
    by_model: list[tuple[str, Decimal, int]]
    by_deployment: list[tuple[str, str, Decimal, int]]
    unpriced: list[tuple[str, str, str, int, int]]
    ptu: list[tuple[str, str, Decimal, Decimal]]
    dead_letters: list[tuple[str, int]]


def collect(con: duckdb.DuckDBPyConnection, first: date) -> ReportData:
    params = {"first": first, "end": next_month(first)}
    month = "date >= $first AND date < $end"

    def rows(sql: str) -> list[tuple]:
        return con.sql(sql, params=params).fetchall()

    currencies = rows(f"SELECT DISTINCT currency FROM chargeback_daily WHERE {month} AND currency IS NOT NULL")
    team = f"coalesce(team, CASE WHEN pricing_status = 'ptu_idle' THEN '{UNALLOCATED}' ELSE '{NO_TEAM}' END)"
    return ReportData(
        month=first,
        currency=", ".join(sorted(c[0] for c in currencies)) or "n/a",
        by_day_team=rows(
            f"SELECT date, {team}, coalesce(sum(total_cost), 0) FROM chargeback_daily WHERE {month} "
            "GROUP BY ALL ORDER BY ALL"
        ),
        by_team=rows(
            f"SELECT {team} AS t, coalesce(sum(total_cost), 0) AS c, sum(requests), sum(prompt_tokens + "
            "completion_tokens), coalesce(sum(prompt_tokens + completion_tokens) FILTER "
            f"(WHERE pricing_status = 'unpriced'), 0) FROM chargeback_daily WHERE {month} GROUP BY t ORDER BY c DESC, t"
        ),
        by_model=rows(
            "SELECT coalesce(model, CASE WHEN pricing_status = 'ptu_idle' THEN '(idle PTU)' ELSE '(none)' END) AS m, "
            f" coalesce(sum(total_cost), 0) AS c, sum(prompt_tokens + "
            f"completion_tokens) FROM chargeback_daily WHERE {month} GROUP BY m ORDER BY c DESC, m LIMIT 10"
        ),
        by_deployment=rows(
            f"SELECT deployment, coalesce(any_value(deployment_type), '?'), coalesce(sum(total_cost), 0) AS c, "
            f"sum(requests) FROM chargeback_daily WHERE {month} GROUP BY deployment ORDER BY c DESC, deployment "
            "LIMIT 10"
        ),
        unpriced=rows(
            f"SELECT reason, coalesce(deployment, '(none)'), coalesce(model, '(none)'), sum(requests), "
            f"sum(prompt_tokens + completion_tokens) FROM unpriced WHERE {month} GROUP BY ALL ORDER BY 5 DESC"
        ),
        ptu=rows(
            f"SELECT deployment, coalesce(team, CASE WHEN status = 'idle' THEN '{UNALLOCATED}' ELSE '{NO_TEAM}' END), "
            "sum(allocated_cost), sum(tokens) "
            f"FROM ptu_allocation WHERE {month} GROUP BY ALL ORDER BY ALL"
        ),
        dead_letters=rows(
            "SELECT reason, count(*) FROM dead_letters WHERE event_date >= $first AND event_date < $end "
            "GROUP BY reason ORDER BY 2 DESC, reason"
        ),
    )


def _table(headers: list[str], rows: list[list[object]], numeric: set[int]) -> str:
    if not rows:
        return '<p class="note">None.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            text = f"{value:,.2f}" if isinstance(value, Decimal) else f"{value:,}" if isinstance(value, int) else value
            cls = ' class="n"' if i in numeric else ""
            cells.append(f"<td{cls}>{escape(str(text))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(data: ReportData, generated: datetime | None = None) -> str:
    days = month_days(data.month)
    teams = [t for t, *_ in data.by_team]
    series = {t: [0.0] * len(days) for t in teams}
    for day, team, cost in data.by_day_team:
        series[team][(day - data.month).days] = float(cost)
    total = sum((c for _, c, *_ in data.by_team), Decimal(0))
    requests = sum(r or 0 for _, _, r, *_ in data.by_team)
    unpriced_tokens = sum(t or 0 for *_, t in data.unpriced)
    title = f"AI chargeback {data.month:%Y-%m}"
    generated = generated or datetime.now(UTC)
    sections = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">Currency {escape(data.currency)}. Generated {generated:%Y-%m-%d %H:%M} UTC from the lake\'s '
        "chargeback tables. Costs are list prices in force on each day; PTU costs are shared by token share.</p>",
        f'<div class="kpi">Total cost<b>{total:,.2f}</b></div>',
        f'<div class="kpi">Requests<b>{requests:,}</b></div>',
        f'<div class="kpi">Unpriced tokens<b>{unpriced_tokens:,}</b></div>',
        f'<div class="kpi">Dead letters<b>{sum(n for _, n in data.dead_letters):,}</b></div>',
        "<h2>Cost by team per day</h2>",
        stacked_bars("Cost by team per day", [d.isoformat() for d in days], series),
        _table(
            ["team", "cost", "requests", "tokens", "of which unpriced"],
            [[t, c, r or 0, k or 0, u] for t, c, r, k, u in data.by_team],
            {1, 2, 3, 4},
        ),
        "<h2>Top models</h2>",
        horizontal_bars("Top models by cost", [(m, float(c)) for m, c, _ in data.by_model]),
        _table(["model", "cost", "tokens"], [[m, c, k or 0] for m, c, k in data.by_model], {1, 2}),
        "<h2>Top deployments</h2>",
        horizontal_bars("Top deployments by cost", [(d or "(none)", float(c)) for d, _, c, _ in data.by_deployment]),
        _table(
            ["deployment", "type", "cost", "requests"],
            [[d or "(none)", t, c, r or 0] for d, t, c, r in data.by_deployment],
            {2, 3},
        ),
        "<h2>Unpriced usage</h2>",
        '<p class="note">Usage with no price in force: not billed, and not a silent zero. Add the price or the '
        "deployment, then re-run <code>chargeback aggregate</code> for those days.</p>",
        _table(
            ["reason", "deployment", "model", "requests", "tokens"],
            [list(r) for r in data.unpriced],
            {3, 4},
        ),
        "<h2>Provisioned throughput (PTU) allocation</h2>",
        _table(["deployment", "team", "allocated cost", "tokens"], [list(r) for r in data.ptu], {2, 3}),
        "<h2>Dead letters</h2>",
        '<p class="note">Messages the consumer could not turn into records (schemas/README.md section 5).</p>',
        _table(["reason", "count"], [list(r) for r in data.dead_letters], {1}),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(sections)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )
