"""Configuration of the aggregator, read once from `CHARGEBACK_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path(__file__).parent / "data"
SHIPPED_PRICE_SHEET = DATA_DIR / "prices.csv"
SHIPPED_DEPLOYMENTS = DATA_DIR / "deployments.example.csv"


class AggregatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHARGEBACK_", extra="ignore")

    lake_url: str | None = None
    """Local directory or Blob container URL of the lake (schemas/lake.py)."""
    storage_connection_string: str | None = Field(default=None, repr=False)
    """Only for emulators (Azurite); on Azure the identity is used."""
    price_sheet: Path | None = None
    """Your own price sheet; default the shipped `aggregator/data/prices.csv`."""
    ptu_config: Path | None = None
    """Provisioned deployments (PTU count, hourly rate, period); none by default."""
    deployments_config: Path | None = None
    """Deployment name -> deployment type and region; default the shipped example."""
    late_data_days: int = Field(default=2, ge=0, le=60)
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
    """Per day and dimension, the values with the most requests kept; the rest are `(other)`."""

    def price_sheet_path(self) -> Path:
        return self.price_sheet or SHIPPED_PRICE_SHEET

    def deployments_path(self) -> Path:
        return self.deployments_config or SHIPPED_DEPLOYMENTS
