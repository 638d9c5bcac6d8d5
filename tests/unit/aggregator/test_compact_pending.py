"""`chargeback compact` without --date: every closed day of the look-back window that needs it, and only those."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aggregator.compact import compact_pending, pending_hours
from aggregator.errors import DateRangeError
from schemas.lake import open_location
from tests.unit.aggregator.cli_app import invoke
from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row

TODAY = datetime.now(UTC).date()


def _lake(tmp_path):
    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    return location, LakeBuilder(location)


def _files(tmp_path, day: date, hour: int = 9) -> list[str]:
    directory = tmp_path / "lake" / "usage" / f"event_date={day}" / f"event_hour={hour:02d}"
    return sorted(p.name for p in directory.glob("*.parquet"))


def _at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def test_without_date_compacts_every_closed_day_in_the_lookback_and_nothing_else(tmp_path):
    _location, builder = _lake(tmp_path)
    yesterday, three_ago, old = TODAY - timedelta(days=1), TODAY - timedelta(days=3), TODAY - timedelta(days=9)
    for day in (yesterday, three_ago, old, TODAY):
        for i in range(3):  # three files in the same hour, one per "flush"
            builder.usage([usage_row(when=_at(day, minute=i), prompt=i + 1, completion=1)])
    env = {"CHARGEBACK_LAKE_URL": str(tmp_path / "lake"), "CHARGEBACK_COMPACT_LOOKBACK_DAYS": "7"}

    result = invoke(["compact"], env)

    assert result.exit_code == 0, result.output
    for day in (yesterday, three_ago):
        (name,) = _files(tmp_path, day)
        assert name.startswith("compacted-")
    assert len(_files(tmp_path, old)) == 3, "a day before the look-back window is left alone"
    assert len(_files(tmp_path, TODAY)) == 3, "today is not closed: never compacted"
    assert "compacted 2 of 7 closed days" in result.output and "5 already compacted or empty" in result.output


def test_a_compacted_unchanged_day_is_skipped_and_a_late_file_makes_it_due_again(tmp_path):
    location, builder = _lake(tmp_path)
    yesterday = TODAY - timedelta(days=1)
    for i in range(2):
        builder.usage([usage_row(when=_at(yesterday, minute=i), prompt=1, completion=1)])
    first = compact_pending(location, TODAY, 3)
    assert list(first.compacted) == [yesterday] and first.compacted[yesterday].files_before == 2
    compacted = _files(tmp_path, yesterday)

    again = compact_pending(location, TODAY, 3)
    assert again.compacted == {} and yesterday in again.skipped, "already compacted and unchanged: skipped"
    assert _files(tmp_path, yesterday) == compacted
    assert all(hours == [] for hours in pending_hours(location, TODAY, 3).values())

    builder.usage([usage_row(when=_at(yesterday, minute=30), prompt=7, completion=1)])  # a late record
    late = compact_pending(location, TODAY, 3)
    assert late.compacted[yesterday].files_before == 2 and late.compacted[yesterday].rows == 3
    (name,) = _files(tmp_path, yesterday)
    assert name.startswith("compacted-") and [name] != compacted


def test_the_lookback_bounds_the_window_and_must_be_positive(tmp_path):
    location, builder = _lake(tmp_path)
    two_ago = TODAY - timedelta(days=2)
    for i in range(2):
        builder.usage([usage_row(when=_at(two_ago, minute=i), prompt=1, completion=1)])
    assert compact_pending(location, TODAY, 1).compacted == {}
    assert len(_files(tmp_path, two_ago)) == 2
    assert list(compact_pending(location, TODAY, 2).compacted) == [two_ago]
    with pytest.raises(DateRangeError):
        pending_hours(location, TODAY, 0)
    bad = invoke(["compact"], {"CHARGEBACK_LAKE_URL": str(tmp_path / "lake"), "CHARGEBACK_COMPACT_LOOKBACK_DAYS": "0"})
    assert bad.exit_code == 3 and "compact_lookback_days" in bad.output.lower()
