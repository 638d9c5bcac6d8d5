"""`chargeback aggregate`: roll up each requested day, replace exactly those days, then rebuild their months."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.dataset as ds

from aggregator.config_files import PricingInputs
from aggregator.errors import LakeNotFoundError
from aggregator.lakeio import local_day_files, partition_values, replace_partition, table_exists
from aggregator.rollup import roll_up_day, roll_up_month
from aggregator.runs import RunRecord, record_run
from aggregator.settings import AggregatorSettings
from aggregator.tables import derived_schemas
from common.logs import get_logger
from schemas.lake import LakeLocation

log = get_logger(__name__)
DAY_TABLES = ("chargeback_daily", "unpriced", "unmapped", "ptu_allocation")


@dataclass
class DayResult:
    day: date
    rows: dict[str, int]
    usage_files: int


@dataclass
class AggregateResult:
    days: list[DayResult] = field(default_factory=list)
    months: list[str] = field(default_factory=list)
    run_id: str = ""


def aggregate_days(
    location: LakeLocation,
    days: list[date],
    settings: AggregatorSettings,
    *,
    on_day: Callable[[DayResult], None] | None = None,
) -> AggregateResult:
    if not table_exists(location, "usage"):
        raise LakeNotFoundError(f"the lake at {location.url} has no usage table (has the consumer written to it?)")
    inputs = PricingInputs.load(settings)
    ptu = inputs.ptu
    for day in days:
        ptu.in_force(day)  # overlapping PTU periods are a config error: find them before writing anything
    run = RunRecord(inputs.sources)
    result = AggregateResult(run_id=run.run_id)
    for day in days:
        with local_day_files(location, "usage", day) as files:
            tables = roll_up_day(
                files,
                day,
                prices=inputs.prices,
                deployments=inputs.deployments,
                ptu=ptu,
                team_tag=settings.team_tag,
                teams=inputs.teams,
                dimensions=inputs.dimensions,
            )
        for name in DAY_TABLES:
            replace_partition(location, name, "date", day.isoformat(), tables[name])
        done = DayResult(day, {n: tables[n].num_rows for n in DAY_TABLES}, len(files))
        run.days.append(day)
        run.usage_files += done.usage_files
        for name, count in done.rows.items():
            run.add_rows(name, count)
        log.info("day_aggregated", day=day.isoformat(), usage_files=done.usage_files, **done.rows)
        result.days.append(done)
        if on_day:
            on_day(done)
    for month in sorted({d.strftime("%Y-%m") for d in days}):
        run.add_rows("chargeback_monthly", rebuild_month(location, month).num_rows)
        result.months.append(month)
    run.months = list(result.months)
    record_run(location, run)
    log.info("run_recorded", run_id=run.run_id, days=len(run.days), config_files=len(run.sources))
    return result


def rebuild_month(location: LakeLocation, month: str) -> pa.Table:
    """Recompute `chargeback_monthly/month=YYYY-MM` from the month's daily partitions."""
    daily_days = [d for d in partition_values(location, "chargeback_daily", "date") if d.startswith(month)]
    files = [location.path("chargeback_daily", f"date={d}", "part-0.parquet") for d in daily_days]
    dataset = ds.dataset(
        files, schema=derived_schemas()["chargeback_daily"], format="parquet", filesystem=location.filesystem
    )
    monthly = roll_up_month(dataset)
    replace_partition(location, "chargeback_monthly", "month", month, monthly)
    log.info("month_rebuilt", month=month, days=len(files), rows=monthly.num_rows)
    return monthly


__all__ = ["AggregateResult", "DayResult", "aggregate_days", "rebuild_month"]
