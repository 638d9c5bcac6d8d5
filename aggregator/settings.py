"""Configuration of the aggregator, read once from `CHARGEBACK_*` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator

from common.settings import StageSettings

DATA_DIR = Path(__file__).parent / "data"
SHIPPED_PRICE_SHEET = DATA_DIR / "prices.csv"
SHIPPED_DEPLOYMENTS = DATA_DIR / "deployments.example.csv"


class AggregatorSettings(StageSettings):
    """`lake_url`, `storage_connection_string` and `log_level` come from the shared base (common/settings.py).

    Configuration files are a local path or a Blob URL under the lake's credential rules (common/storage/files.py).
    """

    price_sheet: str | None = None
    """Your own price sheet; default the shipped `aggregator/data/prices.csv`."""
    ptu_config: str | None = None
    """Provisioned deployments (PTU count, hourly rate, period); none by default."""
    deployments_config: str | None = None
    """Deployment name -> deployment type and region; default the shipped example."""
    config_url: str | None = None
    """Where `chargeback config push` puts the configuration files (the deployment's `config` container)."""
    late_data_days: int = Field(default=2, ge=0, le=60)
    compact_lookback_days: int = Field(default=7, ge=1, le=366)
    """`compact` without --date: closed days (yesterday back) checked for files to merge."""
    payload_retention_days: int = Field(default=30, ge=1)
    dead_letter_retention_days: int = Field(default=90, ge=1)
    team_tag: str = "team"
    """Which usage tag a caller of a *shared* subscription uses to name one of its listed teams
    (aggregator/teams.py)."""
    teams_config: str | None = None
    """The attribution map (CSV): APIM subscription/product -> team, cost centre, owner, over time; none = every call
    is unmapped."""
    tag_dimensions: str = ""
    """Comma-separated tag keys that become roll-up dimensions (aggregator/dimensions.py); none by default."""
    tag_max_values: int = Field(default=100, ge=1, le=100_000)
    fx_rates: str | None = None
    """Exchange rates into one billing currency (CSV; aggregator/fx.py): lets a report or export span currencies."""
    """Per day and dimension, the values with the most requests kept; the rest are `(other)`."""

    @field_validator("price_sheet", "ptu_config", "deployments_config", mode="before")
    @classmethod
    def _path_as_location(cls, value: object) -> object:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    def price_sheet_location(self) -> str:
        return self.price_sheet or str(SHIPPED_PRICE_SHEET)

    def deployments_location(self) -> str:
        return self.deployments_config or str(SHIPPED_DEPLOYMENTS)
