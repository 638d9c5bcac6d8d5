"""`aggregation_runs`: what produced each roll-up, so a number in a report can be traced to its price sheet.

One row per successful `chargeback aggregate` run, one file per run (appended, never rewritten):
`aggregation_runs/run_date=YYYY-MM-DD/run-<started>-<run id>.parquet`. A run that fails writes nothing here (and
its days keep their previous partitions or have none). Query it with `chargeback sql`, e.g.
`SELECT run_id, started_at, price_sheet_sha256 FROM aggregation_runs ORDER BY started_at DESC`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.dataset as ds

from aggregator.config_files import ConfigSource
from aggregator.lakeio import derived_files
from schemas.lake import LakeLocation

RUNS_TABLE = "aggregation_runs"
CONFIG_FILE_TYPE = pa.struct(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("location", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
    ]
)
RUNS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("run_date", pa.date32(), nullable=False),
        pa.field("started_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("finished_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("days", pa.list_(pa.date32()), nullable=False),
        pa.field("months", pa.list_(pa.string()), nullable=False),
        pa.field("price_sheet_location", pa.string()),
        pa.field("price_sheet_sha256", pa.string()),
        pa.field("config_files", pa.list_(CONFIG_FILE_TYPE), nullable=False),
        pa.field("usage_files", pa.int64(), nullable=False),
        pa.field("chargeback_daily_rows", pa.int64(), nullable=False),
        pa.field("unpriced_rows", pa.int64(), nullable=False),
        pa.field("unmapped_rows", pa.int64(), nullable=False),
        pa.field("ptu_allocation_rows", pa.int64(), nullable=False),
        pa.field("chargeback_monthly_rows", pa.int64(), nullable=False),
    ]
)


@dataclass
class RunRecord:
    """Filled in while a run goes; written by `record_run` once every day and month is replaced."""

    sources: tuple[ConfigSource, ...]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    days: list[date] = field(default_factory=list)
    months: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    usage_files: int = 0

    def add_rows(self, table: str, count: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + count

    def to_table(self, finished_at: datetime) -> pa.Table:
        price = next((s for s in self.sources if s.name == "price sheet"), None)
        row = {
            "run_id": self.run_id,
            "run_date": self.started_at.date(),
            "started_at": self.started_at,
            "finished_at": finished_at,
            "days": sorted(self.days),
            "months": sorted(self.months),
            "price_sheet_location": price.location if price else None,
            "price_sheet_sha256": price.sha256 if price else None,
            "config_files": [
                {"name": s.name, "location": s.location, "sha256": s.sha256, "bytes": s.size} for s in self.sources
            ],
            "usage_files": self.usage_files,
            **{f"{name}_rows": self.rows.get(name, 0) for name in _ROW_TABLES},
        }
        return pa.Table.from_pylist([row], schema=RUNS_SCHEMA)


_ROW_TABLES = ("chargeback_daily", "unpriced", "unmapped", "ptu_allocation", "chargeback_monthly")


def record_run(location: LakeLocation, run: RunRecord) -> str:
    """Append the run's row to `aggregation_runs` (atomically published, like every lake file)."""
    finished = datetime.now(UTC)
    directory = location.path(RUNS_TABLE, f"run_date={run.started_at:%Y-%m-%d}")
    location.filesystem.create_dir(directory, recursive=True)
    path = f"{directory}/run-{run.started_at:%Y%m%dT%H%M%S%f}-{run.run_id}.parquet"
    location.write_parquet(run.to_table(finished), path, compression="zstd")
    return path


def runs_dataset(location: LakeLocation) -> ds.Dataset:
    return ds.dataset(
        derived_files(location, RUNS_TABLE), schema=RUNS_SCHEMA, format="parquet", filesystem=location.filesystem
    )
