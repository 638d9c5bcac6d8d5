"""Configuration of `chargeback serve`, read once from `CHARGEBACK_API_*` environment variables."""

from __future__ import annotations

import ipaddress
import json
from enum import StrEnum

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from api.errors import ApiConfigError
from common.configuration import configuration_error

ENTRA_AUTHORITY = "https://login.microsoftonline.com"


class AuthMode(StrEnum):
    ENTRA = "entra"
    """Microsoft Entra ID bearer tokens (production)."""
    API_KEY = "api_key"
    """One shared key in `X-Api-Key`: local use only (the server refuses to listen beyond loopback with it)."""


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHARGEBACK_API_", extra="ignore", env_ignore_empty=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    auth: AuthMode = AuthMode.ENTRA
    key: SecretStr | None = None
    """The API key, with `CHARGEBACK_API_AUTH=api_key`."""
    tenant_id: str | None = None
    audience: str | None = None
    """The API's application ID URI or client id: a token for anything else is refused."""
    issuer: str | None = None
    """Default `https://login.microsoftonline.com/<tenant>/v2.0`."""
    jwks_url: str | None = None
    """Default `https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys` (tests point it at a local server)."""
    team_claim: str = "groups"
    """The token claim whose values name a `Chargeback.Read.Team` caller's teams (mapped by `group_teams`)."""
    group_teams: dict[str, list[str]] = Field(default_factory=dict)
    """JSON object: claim value (e.g. an Entra group object id) -> the teams it may read. Empty: values are teams."""
    refresh_seconds: float = Field(default=30.0, gt=0, le=3600)
    """How often the lake's roll-up files are listed to notice a new `chargeback aggregate` run."""
    max_page: int = Field(default=1000, ge=1, le=10_000)

    @field_validator("group_teams", mode="before")
    @classmethod
    def _teams_map(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if isinstance(value, dict):
            return {str(k): [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _auth_complete(self) -> ApiSettings:
        if self.auth is AuthMode.API_KEY:
            if self.key is None or len(self.key.get_secret_value()) < 16:
                raise ValueError(
                    "CHARGEBACK_API_KEY must be set (16 characters or more) with CHARGEBACK_API_AUTH=api_key"
                )
            if not _is_loopback(self.host):
                raise ValueError("CHARGEBACK_API_AUTH=api_key is for local use: CHARGEBACK_API_HOST must be loopback")
        else:
            missing = [
                name for name, value in (("TENANT_ID", self.tenant_id), ("AUDIENCE", self.audience)) if not value
            ]
            if missing:
                raise ValueError(
                    "Entra authentication needs "
                    + " and ".join(f"CHARGEBACK_API_{m}" for m in missing)
                    + " (or CHARGEBACK_API_AUTH=api_key for local use)"
                )
        return self

    def issuer_url(self) -> str:
        return self.issuer or f"{ENTRA_AUTHORITY}/{self.tenant_id}/v2.0"

    def keys_url(self) -> str:
        return self.jwks_url or f"{ENTRA_AUTHORITY}/{self.tenant_id}/discovery/v2.0/keys"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings() -> ApiSettings:
    """The settings, or one line naming the environment variables that are wrong (never their values)."""
    try:
        return ApiSettings()
    except (ValidationError, SettingsError) as exc:
        raise ApiConfigError(str(configuration_error(exc, ApiSettings, what="API configuration"))) from None
