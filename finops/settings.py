"""Configuration of budgets, alerts, notifications and enforcement, read once from `CHARGEBACK_*` variables.

Every default here is documented in the README (section "Budgets, alerts and enforcement").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.settings import StageSettings


class Webhook(BaseModel):
    """One notification channel. The URL is a secret (Slack and Teams URLs carry their token): never logged."""

    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    format: Literal["generic", "slack", "teams"] = "generic"
    url: SecretStr
    min_severity: Literal["info", "warning", "critical"] = "info"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value()
        if not text.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class AlertRules(BaseSettings):
    """Thresholds of the alert rules (`CHARGEBACK_ALERT_*`)."""

    model_config = SettingsConfigDict(env_prefix="CHARGEBACK_ALERT_", extra="ignore")

    baseline_days: int = Field(default=14, ge=3, le=90)
    """Days before the evaluated day that make the robust baselines (median, MAD)."""
    min_baseline_days: int = Field(default=7, ge=2, le=90)
    """A baseline rule stays silent until the ledger has this many days before the evaluated one."""
    cost_increase_pct: float = Field(default=20.0, gt=0)
    cost_floor: Decimal = Field(default=Decimal("10"), ge=0)
    """Absolute floor (ledger currency): a cost rise smaller than this never alerts."""
    cost_mad_k: float = Field(default=3.0, ge=0)
    """The rise must also exceed k x 1.4826 x MAD of the baseline (robust z-score)."""
    error_rate_pct: float = Field(default=5.0, gt=0, le=100)
    error_min_requests: int = Field(default=100, ge=1)
    latency_p95_ms: float = Field(default=2000.0, gt=0)
    latency_min_requests: int = Field(default=20, ge=1)
    rpm_max: int = Field(default=1000, ge=1)
    """Peak requests in one minute on a deployment that always alerts."""
    rpm_spike_factor: float = Field(default=3.0, gt=1)
    rpm_floor: int = Field(default=30, ge=1)
    """A relative rate spike needs at least this many requests in its peak minute."""
    auth_failures_per_hour: int = Field(default=20, ge=1)
    unpriced_share_pct: float = Field(default=1.0, ge=0, le=100)
    dead_letters: int = Field(default=1, ge=1)
    """Dead letters in a day that raise an alert."""
    no_usage_pct: float = Field(default=5.0, ge=0, le=100)
    """Share of successful calls without usage (tokens) that raises an alert, from `error_min_requests` calls."""


class FinopsSettings(StageSettings):
    """`lake_url`, `storage_connection_string` and `log_level` come from the shared base (common/settings.py)."""

    budgets_config: str | None = None
    """Budgets CSV: local path or Blob URL."""
    late_data_days: int = Field(default=2, ge=0, le=60)
    """Same variable as the aggregator's: a day this close to today is still receiving late data (provisional)."""
    team_tag: str = "team"
    webhooks: list[Webhook] = Field(default_factory=list, repr=False)
    """JSON list of {name, format: generic|slack|teams, url, min_severity}."""
    webhook_attempts: int = Field(default=4, ge=1, le=10)
    webhook_backoff_seconds: float = Field(default=1.0, ge=0, le=60)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    enforcement: Literal["dry-run", "enforce"] = "dry-run"
    apim_subscription_id: str | None = None
    """Azure subscription of the API Management instance (enforcement)."""
    apim_resource_group: str | None = None
    apim_service_name: str | None = None
    apim_arm_endpoint: str = "https://management.azure.com"
    """ARM endpoint; plain http is accepted for loopback hosts only (tests, emulators)."""
    enforcement_named_value: str = Field(default="chargeback-enforcement", pattern=r"^[A-Za-z0-9._-]{1,80}$")
