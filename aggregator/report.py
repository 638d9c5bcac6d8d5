"""`chargeback report`: one self-contained HTML file for a month (inline CSS and SVG; opens without a network).

Sections: cost by team per day (stacked bars) and per team (table, with how each team was decided), top models and
deployments by cost, unmapped usage (APIM subscriptions the teams map does not know), unpriced usage (by reason),
PTU allocation, dead letters by reason. A cost that cannot be priced reads "unpriced", never 0.00; one currency per
report (a month mixing currencies is refused, naming rows of each). A small inline script records each chart's rendered
size on the page (`data-rendered-*`), which the browser test reads back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape

import duckdb

from aggregator.charts import horizontal_bars, stacked_bars
from aggregator.dates import month_days, next_month
from aggregator.fx import FxRates
from aggregator.money import billing_currency, cents

UNALLOCATED = "(unallocated PTU)"
UNMAPPED = "(unmapped)"
NO_TEAM = "(no team)"
UNPRICED = "unpriced"

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
    by_day_team: list[tuple[date, str, Decimal | None]]
    by_team: list[tuple[str, Cost, int, int, int, str]]
    by_model: list[tuple[str, Cost, int]]
    by_deployment: list[tuple[str, str, Cost, int]]
    unpriced: list[tuple[str, str, str, int, int]]
    ptu: list[tuple[str, str, Decimal, Decimal]]
    dead_letters: list[tuple[str, int]]
    unmapped: list[tuple[str, str, int, int, Cost]] = field(default_factory=list)
    total: Cost | None = None


@dataclass(frozen=True)
class Cost:
    """A sum of costs that may include unpriced usage: `amount` is what is priced (None if nothing is)."""

    amount: Decimal | None
    has_unpriced: bool = False

    def __str__(self) -> str:
        if self.amount is None:
            return UNPRICED if self.has_unpriced else "0.00"
        text = f"{cents(self.amount):,.2f}"
        return f"{text} + {UNPRICED}" if self.has_unpriced else text

    def __float__(self) -> float:
        return float(self.amount or 0)


def billed(table: str, cost_columns: tuple[str, ...], fx: FxRates | None) -> str:
    """`table` with its costs in the billing currency (rate in force on each row's day, exact), or as it is."""
    if fx is None:
        return table
    b = fx.billing_currency
    converted = ", ".join(
        f"CASE WHEN t.currency IS NULL OR t.currency = '{b}' THEN t.{c} ELSE t.{c} * r.rate END AS {c}"
        for c in cost_columns
    )
    return (
        f"(SELECT t.* REPLACE ({converted}, CASE WHEN t.currency IS NULL THEN NULL ELSE '{b}' END AS currency) "
        f"FROM {table} t LEFT JOIN _fx_rates r ON r.from_currency = t.currency "
        "AND (r.effective_from IS NULL OR r.effective_from <= t.date) "
        "AND (r.effective_to IS NULL OR t.date < r.effective_to))"
    )


def collect(con: duckdb.DuckDBPyConnection, first: date, fx: FxRates | None = None) -> ReportData:
    params = {"first": first, "end": next_month(first)}
    month = "date >= $first AND date < $end"

    def rows(sql: str) -> list[tuple]:
        return con.sql(sql, params=params).fetchall()

    priced_rows = rows(
        f"SELECT currency, date, date::VARCHAR || ' ' || coalesce(deployment, '') || ' ' || coalesce(model, '') "
        f"|| ' team ' || coalesce(team, '-') FROM chargeback_daily WHERE {month} AND total_cost IS NOT NULL"
    )
    currency = billing_currency(priced_rows, f"the report of {first:%Y-%m}", fx)
    if fx is not None:
        con.register("_fx_rates", fx.table())
    daily = billed("chargeback_daily", ("total_cost",), fx)
    unmapped = billed("unmapped", ("total_cost",), fx)
    allocation = billed("ptu_allocation", ("allocated_cost",), fx)
    team = (
        f"coalesce(team, CASE WHEN pricing_status = 'ptu_idle' THEN '{UNALLOCATED}' "
        f"WHEN attribution = 'unmapped' THEN '{UNMAPPED}' ELSE '{NO_TEAM}' END)"
    )
    cost = "sum(total_cost), bool_or(pricing_status = 'unpriced')"
    order = "sum(total_cost) DESC NULLS LAST"

    def costed(found: list[tuple], at: int) -> list[tuple]:
        return [(*r[:at], Cost(r[at], bool(r[at + 1])), *r[at + 2 :]) for r in found]

    (total,) = costed(rows(f"SELECT {cost} FROM {daily} WHERE {month}"), 0)
    return ReportData(
        month=first,
        currency=currency or "n/a",
        by_day_team=rows(f"SELECT date, {team}, sum(total_cost) FROM {daily} WHERE {month} GROUP BY ALL ORDER BY ALL"),
        by_team=costed(
            rows(
                f"SELECT {team} AS t, {cost}, sum(requests), sum(prompt_tokens + completion_tokens), "
                f"sum(unpriced_tokens), string_agg(DISTINCT attribution, ', ' ORDER BY attribution) "
                f"FROM {daily} WHERE {month} GROUP BY t ORDER BY {order}, t"
            ),
            1,
        ),
        by_model=costed(
            rows(
                "SELECT coalesce(model, CASE WHEN pricing_status = 'ptu_idle' THEN '(idle PTU)' ELSE '(none)' END) "
                f"AS m, {cost}, sum(prompt_tokens + completion_tokens) FROM {daily} WHERE {month} "
                f"GROUP BY m ORDER BY {order}, m LIMIT 10"
            ),
            1,
        ),
        by_deployment=costed(
            rows(
                f"SELECT deployment, coalesce(any_value(deployment_type), '?'), {cost}, sum(requests) "
                f"FROM {daily} WHERE {month} GROUP BY deployment ORDER BY {order}, deployment LIMIT 10"
            ),
            2,
        ),
        unpriced=rows(
            f"SELECT reason, coalesce(deployment, '(none)'), coalesce(model, '(none)'), sum(requests), "
            f"sum(unpriced_tokens) FROM unpriced WHERE {month} GROUP BY ALL ORDER BY 5 DESC, 1, 2, 3"
        ),
        unmapped=costed(
            rows(
                f"SELECT coalesce(subscription_id, '(anonymous)'), coalesce(product_id, '(none)'), sum(requests), "
                f"sum(total_tokens), sum(total_cost), bool_or(pricing_status = 'unpriced') FROM {unmapped} "
                f"WHERE {month} GROUP BY ALL ORDER BY 3 DESC, 1, 2"
            ),
            4,
        ),
        total=total[0],
        ptu=rows(
            f"SELECT deployment, coalesce(team, CASE WHEN status = 'idle' THEN '{UNALLOCATED}' ELSE '{NO_TEAM}' END), "
            "sum(allocated_cost), sum(tokens) "
            f"FROM {allocation} WHERE {month} GROUP BY ALL ORDER BY ALL"
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
            if isinstance(value, Decimal):
                text = f"{cents(value):,.2f}"
            elif isinstance(value, int):
                text = f"{value:,}"
            else:
                text = "" if value is None else value
            cls = ' class="n"' if i in numeric else ""
            cells.append(f"<td{cls}>{escape(str(text))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(data: ReportData, generated: datetime | None = None) -> str:
    days = month_days(data.month)
    teams = [t for t, *_ in data.by_team]
    series = {t: [0.0] * len(days) for t in teams}
    for day, team, cost in data.by_day_team:
        series[team][(day - data.month).days] = float(cost or 0)  # the chart draws priced cost; tables say unpriced
    total = data.total or Cost(sum((c.amount or Decimal(0) for _, c, *_ in data.by_team), Decimal(0)))
    requests = sum(r or 0 for _, _, r, *_ in data.by_team)
    unpriced_tokens = sum(t or 0 for *_, t in data.unpriced)
    unmapped_requests = sum(r or 0 for _, _, r, *_ in data.unmapped)
    title = f"AI chargeback {data.month:%Y-%m}"
    generated = generated or datetime.now(UTC)
    sections = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">Currency {escape(data.currency)}. Generated {generated:%Y-%m-%d %H:%M} UTC from the lake\'s '
        "chargeback tables. Costs are list prices in force on each day; PTU costs are shared by token share. "
        "Teams are decided by the APIM subscription (teams map), not by the caller's headers.</p>",
        f'<div class="kpi">Total cost<b>{escape(str(total))}</b></div>',
        f'<div class="kpi">Requests<b>{requests:,}</b></div>',
        f'<div class="kpi">Unpriced tokens<b>{unpriced_tokens:,}</b></div>',
        f'<div class="kpi">Unmapped requests<b>{unmapped_requests:,}</b></div>',
        f'<div class="kpi">Dead letters<b>{sum(n for _, n in data.dead_letters):,}</b></div>',
        "<h2>Cost by team per day</h2>",
        stacked_bars("Cost by team per day", [d.isoformat() for d in days], series),
        _table(
            ["team", "cost", "requests", "tokens", "of which unpriced", "decided by"],
            [[t, str(c), r or 0, k or 0, u or 0, a or ""] for t, c, r, k, u, a in data.by_team],
            {1, 2, 3, 4},
        ),
        "<h2>Top models</h2>",
        horizontal_bars("Top models by cost", [(m, float(c)) for m, c, _ in data.by_model]),
        _table(["model", "cost", "tokens"], [[m, str(c), k or 0] for m, c, k in data.by_model], {1, 2}),
        "<h2>Top deployments</h2>",
        horizontal_bars("Top deployments by cost", [(d or "(none)", float(c)) for d, _, c, _ in data.by_deployment]),
        _table(
            ["deployment", "type", "cost", "requests"],
            [[d or "(none)", t, str(c), r or 0] for d, t, c, r in data.by_deployment],
            {2, 3},
        ),
        "<h2>Unmapped usage</h2>",
        '<p class="note">Calls whose APIM subscription and product the teams map (CHARGEBACK_TEAMS_CONFIG) does not '
        "name on that day: costed, billed to no team. Add them to the map, then re-run <code>chargeback "
        "aggregate</code> for those days.</p>",
        _table(
            ["subscription", "product", "requests", "tokens", "cost"],
            [[s, p, r or 0, k or 0, str(c)] for s, p, r, k, c in data.unmapped],
            {2, 3, 4},
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
