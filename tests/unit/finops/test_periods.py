"""Windowing and forecast arithmetic, over wide inputs (hypothesis) and a few hand-checked cases."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finops.baselines import robust_baseline, spike_threshold
from finops.periods import Period, crossings, forecast, parse_period, window

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
money = st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False, allow_infinity=False)


@given(days, st.sampled_from(["month", "quarter"]))
def test_the_window_contains_the_day_and_the_next_window_starts_where_it_ends(day, kind):
    start, end = window(Period(kind), day)
    assert start <= day < end
    assert start.day == 1 and end.day == 1
    assert (end.month - start.month) % 12 == (1 if kind == "month" else 3)
    # windows tile the calendar: the day after the end is in the next window, the day before the start in the last
    assert window(Period(kind), end)[0] == end
    assert window(Period(kind), start - timedelta(days=1))[1] == start


@given(days)
def test_quarters_start_in_january_april_july_october(day):
    start, _ = window(Period("quarter"), day)
    assert start.month in (1, 4, 7, 10)
    assert window(Period("month"), day)[0] >= start


@given(days, st.integers(0, 400), days)
def test_a_range_is_inclusive_and_absent_outside(first, length, day):
    period = Period("range", first, first + timedelta(days=length))
    span = window(period, day)
    if first <= day <= first + timedelta(days=length):
        assert span == (first, first + timedelta(days=length + 1))
    else:
        assert span is None


def test_parse_period():
    assert parse_period("month") == Period("month")
    assert parse_period(" 2026-11-01..2026-11-30 ") == Period("range", date(2026, 11, 1), date(2026, 11, 30))
    for bad in ("monthly", "2026-11-30..2026-11-01", "2026-11-01", "2026-13-01..2026-12-01"):
        with pytest.raises(ValueError):
            parse_period(bad)


@given(days, money)
def test_constant_spend_forecasts_exactly_the_period_total(day, per_day):
    start, end = window(Period("month"), day)
    daily = {start + timedelta(days=n): per_day for n in range((day - start).days + 1)}
    result = forecast(daily, start, end, day)
    assert result.spend == per_day * ((day - start).days + 1)
    assert result.forecast == per_day * (end - start).days
    assert result.days_in_period == (end - start).days


@given(days, st.lists(money, min_size=1, max_size=92))
def test_forecast_is_spend_plus_the_last_seven_days_run_rate(day, values):
    start, end = window(Period("quarter"), day)
    daily = {start + timedelta(days=n): v for n, v in enumerate(values)}
    result = forecast(daily, start, end, day)
    elapsed = (day - start).days + 1
    spent = sum((v for d, v in daily.items() if d <= day), Decimal(0))
    assert result.spend == spent
    assert result.days_elapsed == elapsed
    recent = [daily.get(day - timedelta(days=n), Decimal(0)) for n in range(min(7, elapsed))]
    remaining = (end - day).days - 1
    expected = spent + sum(recent) * remaining / len(recent)
    assert abs(result.forecast - expected) <= Decimal("1e-13")
    assert result.forecast >= result.spend
    if remaining == 0:
        assert result.forecast == result.spend


def test_forecast_refuses_a_day_outside_the_window():
    with pytest.raises(ValueError):
        forecast({}, date(2026, 11, 1), date(2026, 12, 1), date(2026, 12, 1))


@given(
    st.lists(money, min_size=1, max_size=31),
    st.decimals(min_value=Decimal("0.01"), max_value=10**6, places=2),
    st.lists(st.integers(1, 1000), min_size=1, max_size=5, unique=True),
)
def test_each_threshold_is_crossed_once_on_the_first_day_cumulative_spend_reaches_it(values, amount, thresholds):
    start = date(2026, 1, 1)
    daily = {start + timedelta(days=n): v for n, v in enumerate(values)}
    as_of = start + timedelta(days=len(values) - 1)
    reached = crossings(daily, start, as_of, amount, tuple(thresholds))
    assert [t for t, _ in reached] == sorted(t for t in thresholds if sum(values) * 100 >= amount * t)
    for threshold, day in reached:
        cumulative = sum(v for d, v in daily.items() if d <= day)
        before = cumulative - daily[day]
        assert cumulative * 100 >= amount * threshold > before * 100


@given(st.lists(st.floats(0, 1e6), min_size=2, max_size=60), st.floats(0, 1e9))
def test_a_single_outlier_cannot_drag_the_robust_baseline_outside_the_data(values, outlier):
    centre, spread = robust_baseline(values)
    assert min(values) <= centre <= max(values)
    assert spread >= 0
    shifted, _ = robust_baseline([*values, outlier])
    assert min(values) <= shifted <= max(values)


def test_spike_threshold_takes_the_strictest_of_relative_floor_and_mad():
    assert spike_threshold(100.0, 0.0, increase_pct=20, floor=10, k=3) == 120.0
    assert spike_threshold(1.0, 0.0, increase_pct=20, floor=10, k=3) == 11.0  # the floor: a $1 day can't page
    assert spike_threshold(100.0, 10.0, increase_pct=20, floor=10, k=3) == 130.0
