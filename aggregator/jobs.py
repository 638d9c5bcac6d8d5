"""The aggregator's batch jobs as functions that return their report lines.

Shared by their own commands (`compact`, ...) and by `chargeback nightly` (aggregator/nightly.py), so the nightly
job runs exactly what a user runs by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.progress import Progress, TaskID

from aggregator.compact import CompactResult
from aggregator.settings import AggregatorSettings
from schemas.lake import LakeLocation


def _compact_line(when: object, result: CompactResult) -> str:
    line = (
        f"{when}: {result.hours} hour partitions, {result.files_before} files -> {result.files_after} "
        f"({result.rows} rows rewritten)"
    )
    if result.repaired:
        line += f"; finished an interrupted run ({len(result.repaired)} leftover files removed)"
    return line


def compact_job(
    location: LakeLocation, settings: AggregatorSettings, day: str | None = None, *, progress: Progress | None = None
) -> list[str]:
    """One closed day (`day`), or every closed day of the look-back window that needs it."""
    from aggregator.compact import compact_day, compact_pending, hours_to_compact, pending_hours
    from aggregator.dates import parse_day, today_utc

    today = today_utc()
    if day is not None:
        when = parse_day(day)
        task = progress.add_task(f"compacting {when}", total=hours_to_compact(location, when)) if progress else None
        result = compact_day(location, when, today, on_hour=lambda _: _advance(progress, task))
        return [_compact_line(when, result)]
    work = pending_hours(location, today, settings.compact_lookback_days)
    total = sum(len(hours) for hours in work.values())
    task = progress.add_task("compacting closed days", total=total) if progress else None
    pending = compact_pending(
        location, today, settings.compact_lookback_days, work=work, on_hour=lambda _: _advance(progress, task)
    )
    first, last = pending.window
    lines = [_compact_line(when, result) for when, result in sorted(pending.compacted.items())]
    lines.append(
        f"compacted {len(pending.compacted)} of {len(work)} closed days ({first} to {last}); "
        f"{len(pending.skipped)} already compacted or empty"
    )
    return lines


def aggregate_job(
    location: LakeLocation, settings: AggregatorSettings, days: list, *, progress: Progress | None = None
) -> list[str]:
    from aggregator.aggregate import aggregate_days

    task = progress.add_task("aggregating days", total=len(days)) if progress else None
    result = aggregate_days(location, days, settings, on_day=lambda _: _advance(progress, task))
    lines = [
        f"{done.day}: {done.rows['chargeback_daily']} chargeback rows, {done.rows['unpriced']} unpriced, "
        f"{done.rows['ptu_allocation']} PTU allocations (from {done.usage_files} usage files)"
        for done in result.days
    ]
    lines.append(f"months rebuilt: {', '.join(result.months)}")
    return lines


def retention_job(location: LakeLocation, settings: AggregatorSettings, *, dry_run: bool = False) -> list[str]:
    from aggregator.retention import apply_retention, expired_partitions

    today = datetime.now(UTC).date()
    expired = expired_partitions(location, today, settings.payload_retention_days, settings.dead_letter_retention_days)
    if not dry_run:
        apply_retention(location, expired)
    lines = [f"{'would delete' if dry_run else 'deleted'} {item.table} {item.day}" for item in expired]
    lines.append(f"{len(expired)} partitions {'expired' if dry_run else 'deleted'}")
    return lines


def _advance(progress: Progress | None, task: TaskID | None) -> None:
    if progress is not None and task is not None:
        progress.advance(task)
