"""What every stage's settings share, read once from `CHARGEBACK_*` environment variables (README, "Configuration").

A stage extends `StageSettings` with its own fields (consumer/settings.py, aggregator/settings.py); the names of the
environment variables are the field names upper-cased behind `CHARGEBACK_`, the same in the README, the Bicep and
the tests.
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class StageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHARGEBACK_", extra="ignore")

    lake_url: str | None = None
    """The lake: a local directory or a Blob container URL (common/storage/urls.py)."""
    storage_connection_string: SecretStr | None = None
    """Only for emulators (Azurite); on Azure the identity (DefaultAzureCredential) is used."""
    log_level: LogLevel = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def storage_connection(self) -> str | None:
        """The connection string's value, for the one call that needs it (common.storage)."""
        secret = self.storage_connection_string
        return (secret.get_secret_value().strip() or None) if secret else None
