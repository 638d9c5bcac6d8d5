"""Dates and months given on the command line, checked before anything is touched."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aggregator.errors import DateRangeError

MAX_DAYS = 3660


def parse_day(text: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise DateRangeError(f"{what} {text!r} is not a calendar date (YYYY-MM-DD)") from None


def optional_day(raw: str | None, where: str, error: type[Exception]) -> date | None:
    """A configuration file's day cell: empty is None (an open end), anything else a calendar date or `error`."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise error(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from None


def parse_month(text: str) -> date:
    """'YYYY-MM' -> the month's first day."""
    try:
        return datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise DateRangeError(f"month {text!r} is not YYYY-MM") from None


def next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def month_days(first: date) -> list[date]:
    return days_between(first, next_month(first) - timedelta(days=1))


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise DateRangeError(f"--to {end} is before --from {start}")
    count = (end - start).days + 1
    if count > MAX_DAYS:
        raise DateRangeError(f"{count} days is more than the {MAX_DAYS} one run may cover")
    return [start + timedelta(days=i) for i in range(count)]


def today_utc() -> date:
    return datetime.now(UTC).date()


def default_days(late_data_days: int, today: date | None = None) -> list[date]:
    """Yesterday, plus the `late_data_days` before it (records arriving late are re-aggregated)."""
    yesterday = (today or today_utc()) - timedelta(days=1)
    return days_between(yesterday - timedelta(days=late_data_days), yesterday)


def resolve_days(
    day: str | None, start: str | None, end: str | None, late_data_days: int, today: date | None = None
) -> list[date]:
    if day and (start or end):
        raise DateRangeError("give either --date or --from/--to, not both")
    if day:
        return [parse_day(day)]
    if start or end:
        if not (start and end):
            raise DateRangeError("--from and --to go together")
        return days_between(parse_day(start, "--from"), parse_day(end, "--to"))
    return default_days(late_data_days, today)
