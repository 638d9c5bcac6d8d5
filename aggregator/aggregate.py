"""`chargeback aggregate`: roll up each requested day, replace exactly those days, then rebuild their months."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.dataset as ds

from aggregator.deployments import deployments_table, load_deployments
from aggregator.dimensions import TagDimensions
from aggregator.errors import LakeNotFoundError
from aggregator.lakeio import local_day_files, partition_values, replace_partition, table_exists
from aggregator.prices import load_price_sheet, prices_table
from aggregator.ptu import load_ptu_config
from aggregator.rollup import roll_up_day, roll_up_month
from aggregator.settings import AggregatorSettings
from aggregator.tables import derived_schemas
from aggregator.teams import TeamsMap, load_teams
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


@dataclass(frozen=True)
class PricingInputs:
    prices: pa.Table
    deployments: pa.Table
    settings: AggregatorSettings
    teams: TeamsMap = field(default_factory=TeamsMap)
    dimensions: TagDimensions = field(default_factory=TagDimensions)

    @classmethod
    def load(cls, settings: AggregatorSettings) -> PricingInputs:
        """Load and check every config file up front, so a bad one stops the run before anything is written."""
        return cls(
            prices=prices_table(load_price_sheet(settings.price_sheet_path())),
            deployments=deployments_table(load_deployments(settings.deployments_path())),
            settings=settings,
            teams=load_teams(settings.teams_config, connection_string=settings.storage_connection_string),
            dimensions=TagDimensions.parse(settings.tag_dimensions, settings.tag_max_values),
        )


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
    ptu = load_ptu_config(settings.ptu_config)
    for day in days:
        ptu.in_force(day)  # overlapping PTU periods are a config error: find them before writing anything
    result = AggregateResult()
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
        log.info("day aggregated", day=day.isoformat(), usage_files=done.usage_files, **done.rows)
        result.days.append(done)
        if on_day:
            on_day(done)
    for month in sorted({d.strftime("%Y-%m") for d in days}):
        rebuild_month(location, month)
        result.months.append(month)
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
    log.info("month rebuilt", month=month, days=len(files), rows=monthly.num_rows)
    return monthly


__all__ = ["AggregateResult", "DayResult", "aggregate_days", "rebuild_month"]
