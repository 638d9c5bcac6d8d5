"""Configuration of the local policy harness (environment variables, read once)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.configuration import load_settings


class PolicySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHARGEBACK_POLICY_", extra="ignore")

    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "apim-chargeback" / "policy",
        description="Where compiled harness assemblies are cached, keyed by the hash of their source.",
    )
    newtonsoft_dll: Path | None = Field(
        default=None, description="Newtonsoft.Json.dll to compile against; found in Mono's GAC when unset."
    )


@lru_cache(maxsize=1)
def get_settings() -> PolicySettings:
    return load_settings(PolicySettings, what="policy harness configuration")
