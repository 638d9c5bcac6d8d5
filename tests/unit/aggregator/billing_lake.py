"""A small lake plus configuration for the billing tests: write usage rows, aggregate, read tables, run commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from aggregator.aggregate import aggregate_days
from aggregator.lakeio import open_lake
from aggregator.settings import AggregatorSettings
from schemas.lake import LakeLocation, open_location
from tests.unit.aggregator.cli_app import invoke
from tests.unit.aggregator.lake_builder import LakeBuilder
from tests.unit.aggregator.pricing_fixture import DEPLOYMENTS, SHEET

PTU_NONE = '{"provisioned": []}'


@dataclass
class BillingLake:
    root: Path
    config: Path
    teams: str = ""
    sheet: str = SHEET
    deployments: str = DEPLOYMENTS
    ptu: str = PTU_NONE
    dimensions: str = ""
    max_values: int = 100
    location: LakeLocation = field(init=False)
    builder: LakeBuilder = field(init=False)

    def __post_init__(self) -> None:
        self.location = open_location(str(self.root))
        self.location.ensure_root()
        self.builder = LakeBuilder(self.location)
        self.config.mkdir(parents=True, exist_ok=True)

    def settings(self) -> AggregatorSettings:
        (self.config / "prices.csv").write_text(self.sheet)
        (self.config / "deployments.csv").write_text(self.deployments)
        (self.config / "ptu.json").write_text(self.ptu)
        teams = None
        if self.teams:
            (self.config / "teams.csv").write_text(self.teams)
            teams = str(self.config / "teams.csv")
        return AggregatorSettings(
            lake_url=str(self.root),
            price_sheet=self.config / "prices.csv",
            deployments_config=self.config / "deployments.csv",
            ptu_config=self.config / "ptu.json",
            teams_config=teams,
            tag_dimensions=self.dimensions,
            tag_max_values=self.max_values,
        )

    def env(self) -> dict[str, str]:
        s = self.settings()
        env = {
            "CHARGEBACK_LAKE_URL": str(self.root),
            "CHARGEBACK_PRICE_SHEET": str(s.price_sheet),
            "CHARGEBACK_DEPLOYMENTS_CONFIG": str(s.deployments_config),
            "CHARGEBACK_PTU_CONFIG": str(s.ptu_config),
            "CHARGEBACK_TAG_DIMENSIONS": self.dimensions,
            "CHARGEBACK_TAG_MAX_VALUES": str(self.max_values),
        }
        if s.teams_config:
            env["CHARGEBACK_TEAMS_CONFIG"] = s.teams_config
        return env

    def usage(self, rows: list[dict[str, Any]]) -> None:
        self.builder.usage(rows)

    def aggregate(self, *days: date) -> None:
        aggregate_days(open_lake(str(self.root)), list(days), self.settings())

    def table(self, name: str, day: date) -> list[dict[str, Any]]:
        path = self.root / name / f"date={day.isoformat()}" / "part-0.parquet"
        return pq.read_table(path).to_pylist() if path.exists() else []

    def run(self, *args: str) -> Any:
        return invoke(list(args), self.env())
