"""Configuration: `CHARGEBACK_*` environment variables, read once at start-up (README, "Configuration")."""

from __future__ import annotations

import os
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import SettingsConfigDict, SettingsError

from common.configuration import configuration_error
from common.errors import ChargebackError
from common.settings import StageSettings
from common.storage.connection import parse_connection_string
from consumer.errors import ConfigError
from schemas.limits import DEFAULT_CHUNK_BYTES, DEFAULT_MAX_CHUNKS

MiB = 1024 * 1024


class ConsumerSettings(StageSettings):
    model_config = SettingsConfigDict(env_prefix="CHARGEBACK_", extra="ignore", frozen=True)

    eventhub_connection_string: SecretStr | None = None
    """Event Hubs connection string (emulator or SAS); alternative to `eventhub_namespace`."""
    eventhub_namespace: str | None = None
    """Fully qualified namespace (`<ns>.servicebus.windows.net`), authenticated with DefaultAzureCredential."""
    eventhub_name: str | None = None
    consumer_group: str = "$Default"
    checkpoint_url: str
    lake_url: str  # required here, optional in StageSettings
    start_position: Literal["earliest", "latest"] = "earliest"
    health_port: int = Field(8080, ge=0, le=65535)

    max_pending_bytes: int = Field(256 * MiB, ge=1)
    record_ttl_seconds: float = Field(900.0, gt=0)
    max_record_bytes: int = Field(DEFAULT_CHUNK_BYTES * DEFAULT_MAX_CHUNKS, ge=1)
    flush_max_rows: int = Field(100_000, ge=1)
    flush_max_bytes: int = Field(16 * MiB, ge=1)
    flush_max_event_seconds: float = Field(300.0, gt=0)
    idle_flush_seconds: float = Field(5.0, gt=0)
    shutdown_deadline_seconds: float = Field(30.0, gt=0)
    load_balancing_interval_seconds: float = Field(10.0, gt=0)
    ownership_expiration_seconds: float = Field(60.0, gt=0)
    receive_batch_size: int = Field(300, ge=1)
    prefetch: int = Field(300, ge=1)
    lag_poll_seconds: float = Field(10.0, gt=0)

    # The second source (README, "LLM logs"): APIM's diagnostic records on their own hub, read into `llm_log`.
    # Off unless one of the hub's three names is set; each hub keeps its own checkpoints and flush state.
    llm_log_eventhub_connection_string: SecretStr | None = None
    """The LLM-log hub's connection string (emulator or SAS); alternative to `llm_log_eventhub_namespace`."""
    llm_log_eventhub_namespace: str | None = None
    """The LLM-log hub's fully qualified namespace, authenticated with DefaultAzureCredential."""
    llm_log_eventhub_name: str | None = None
    llm_log_consumer_group: str = "$Default"

    @model_validator(mode="after")
    def _source_is_named(self) -> Self:
        conn = self.eventhub_connection_string.get_secret_value() if self.eventhub_connection_string else ""
        if not conn and not self.eventhub_namespace:
            raise ValueError(
                "set CHARGEBACK_EVENTHUB_CONNECTION_STRING or CHARGEBACK_EVENTHUB_NAMESPACE (managed identity)"
            )
        if conn:
            try:
                parts = parse_connection_string(conn, what="CHARGEBACK_EVENTHUB_CONNECTION_STRING")
            except ChargebackError as exc:
                raise ValueError(str(exc)) from None
            if "Endpoint" not in parts:
                raise ValueError("CHARGEBACK_EVENTHUB_CONNECTION_STRING has no Endpoint=")
        if not self.hub_name:
            raise ValueError("set CHARGEBACK_EVENTHUB_NAME (or EntityPath= in the connection string)")
        if self.llm_log_enabled:
            self._check_llm_log_hub()
        return self

    @property
    def llm_log_enabled(self) -> bool:
        """The LLM-log source is on when any of its hub's settings is given."""
        return bool(
            self.llm_log_eventhub_name
            or self.llm_log_eventhub_namespace
            or (self.llm_log_eventhub_connection_string and self.llm_log_eventhub_connection_string.get_secret_value())
        )

    def _check_llm_log_hub(self) -> None:
        conn = self.llm_log_eventhub_connection_string
        secret = conn.get_secret_value() if conn else ""
        if not secret and not self.llm_log_eventhub_namespace:
            raise ValueError(
                "the LLM-log hub is configured but not reachable: set CHARGEBACK_LLM_LOG_EVENTHUB_CONNECTION_STRING "
                "or CHARGEBACK_LLM_LOG_EVENTHUB_NAMESPACE (managed identity)"
            )
        if secret:
            try:
                parts = parse_connection_string(secret, what="CHARGEBACK_LLM_LOG_EVENTHUB_CONNECTION_STRING")
            except ChargebackError as exc:
                raise ValueError(str(exc)) from None
            if "Endpoint" not in parts:
                raise ValueError("CHARGEBACK_LLM_LOG_EVENTHUB_CONNECTION_STRING has no Endpoint=")
        log_hub = self.llm_log_settings()
        if not log_hub.hub_name:
            raise ValueError("set CHARGEBACK_LLM_LOG_EVENTHUB_NAME (or EntityPath= in its connection string)")
        if _hub_identity(log_hub) == _hub_identity(self):
            raise ValueError(
                "the LLM-log hub is the usage hub (same namespace, event hub and consumer group): "
                "CHARGEBACK_LLM_LOG_EVENTHUB_* must name APIM's diagnostic-log hub"
            )

    def llm_log_settings(self) -> ConsumerSettings:
        """These settings with the LLM-log hub in place of the usage hub (the same consumer tuning)."""
        return self.model_copy(
            update={
                "eventhub_connection_string": self.llm_log_eventhub_connection_string,
                "eventhub_namespace": self.llm_log_eventhub_namespace,
                "eventhub_name": self.llm_log_eventhub_name,
                "consumer_group": self.llm_log_consumer_group,
            }
        )

    @property
    def namespace(self) -> str:
        """The namespace as it appears in checkpoint paths (host, plus port for an emulator)."""
        if self.eventhub_connection_string:
            try:
                endpoint = parse_connection_string(self.eventhub_connection_string.get_secret_value())["Endpoint"]
            except (ChargebackError, KeyError):
                return ""
            return urlsplit(endpoint).netloc or endpoint
        return self.eventhub_namespace or ""

    @property
    def hub_name(self) -> str | None:
        if self.eventhub_name:
            return self.eventhub_name
        if self.eventhub_connection_string:
            try:
                parts = parse_connection_string(self.eventhub_connection_string.get_secret_value())
            except ChargebackError:
                return None
            return parts.get("EntityPath")
        return None


def _hub_identity(settings: ConsumerSettings) -> tuple[str, str, str]:
    """(namespace host, hub, consumer group), lower-cased: what names a hub's checkpoints."""
    return settings.namespace.lower(), (settings.hub_name or "").lower(), settings.consumer_group.lower()


def _source_problems(overrides: dict[str, object]) -> list[str]:
    """The cross-field check, also when other fields failed (pydantic skips model validators then)."""

    def given(name: str) -> bool:
        return bool(overrides.get(name) or os.environ.get(f"CHARGEBACK_{name.upper()}", "").strip())

    if given("eventhub_connection_string") or given("eventhub_namespace"):
        return []
    return ["set CHARGEBACK_EVENTHUB_CONNECTION_STRING or CHARGEBACK_EVENTHUB_NAMESPACE (managed identity)"]


def load_settings(**overrides: Any) -> ConsumerSettings:
    """Read the environment once; a `ConfigError` names every missing or invalid variable."""
    try:
        return ConsumerSettings(**overrides)
    except (ValidationError, SettingsError) as exc:
        cross_field_checked = isinstance(exc, ValidationError) and any(error["loc"] == () for error in exc.errors())
        extra = [] if cross_field_checked else _source_problems(overrides)
        error = configuration_error(exc, ConsumerSettings, what="consumer configuration", extra=extra)
        raise ConfigError(str(error)) from None
