"""Budget windows and the month-end forecast: pure date and Decimal arithmetic (hypothesis-tested).

A period is `month`, `quarter` or a fixed inclusive range `YYYY-MM-DD..YYYY-MM-DD`. Windows are half-open
`[start, end)` UTC days; `as_of` D means the ledger through the end of day D.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext

RUN_RATE_DAYS = 7
MONEY_QUANTUM = Decimal("1e-14")
FORECAST_METHOD = f"run_rate_{RUN_RATE_DAYS}d"
"""Spend to date + (mean daily spend over the last min(7, days elapsed) days) x days remaining in the period."""


@dataclass(frozen=True)
class Period:
    kind: str
    """`month`, `quarter` or `range`."""
    first: date | None = None
    last: date | None = None
    """The inclusive days of a `range`."""

    def label(self) -> str:
        return f"{self.first}..{self.last}" if self.kind == "range" else self.kind


def parse_period(text: str) -> Period:
    """`month`, `quarter` or `YYYY-MM-DD..YYYY-MM-DD` (inclusive); ValueError otherwise."""
    value = text.strip()
    if value in ("month", "quarter"):
        return Period(value)
    first, sep, last = value.partition("..")
    if not sep:
        raise ValueError(f"{text!r}: expected month, quarter or YYYY-MM-DD..YYYY-MM-DD")
    start, end = date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
    if end < start:
        raise ValueError(f"{text!r}: the range ends before it starts")
    return Period("range", start, end)


def window(period: Period, as_of: date) -> tuple[date, date] | None:
    """The `[start, end)` window of `period` that contains `as_of`; None for a range that does not contain it."""
    if period.kind == "month":
        start = as_of.replace(day=1)
        return start, _add_months(start, 1)
    if period.kind == "quarter":
        start = date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
        return start, _add_months(start, 3)
    assert period.first is not None and period.last is not None
    if not period.first <= as_of <= period.last:
        return None
    return period.first, period.last + timedelta(days=1)


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Forecast:
    spend: Decimal
    forecast: Decimal
    days_elapsed: int
    days_in_period: int
    method: str = FORECAST_METHOD


def forecast(daily: Mapping[date, Decimal], start: date, end: date, as_of: date) -> Forecast:
    """Spend to date over `[start, as_of]` and the end-of-period forecast; a day absent from `daily` spent 0."""
    if not start <= as_of < end:
        raise ValueError(f"as_of {as_of} is outside [{start}, {end})")
    elapsed = (as_of - start).days + 1
    remaining = (end - as_of).days - 1
    spend = sum((v for d, v in daily.items() if start <= d <= as_of), Decimal(0))
    recent_days = min(RUN_RATE_DAYS, elapsed)
    recent_start = as_of - timedelta(days=recent_days - 1)
    recent = sum((v for d, v in daily.items() if recent_start <= d <= as_of), Decimal(0))
    with localcontext() as context:
        context.prec = 60  # DECIMAL(38,14) values: 24 + 14 digits, with room for the division
        projected = spend + (recent * remaining / recent_days).quantize(MONEY_QUANTUM)
    return Forecast(spend, projected, elapsed, (end - start).days)


def crossings(
    daily: Mapping[date, Decimal], start: date, as_of: date, amount: Decimal, thresholds: tuple[int, ...]
) -> list[tuple[int, date]]:
    """(threshold %, first day cumulative spend reached it) for every threshold reached by `as_of`, ascending."""
    reached: list[tuple[int, date]] = []
    pending = sorted(thresholds)
    total = Decimal(0)
    day = start
    while day <= as_of and pending:
        total += daily.get(day, Decimal(0))
        while pending and total * 100 >= amount * pending[0]:
            reached.append((pending.pop(0), day))
        day += timedelta(days=1)
    return reached
