"""Configuration errors formatted once: one line naming the environment variables, never fields or values."""

from __future__ import annotations

import pytest
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.configuration import env_variable, load_settings
from common.errors import ConfigurationError
from common.exitcodes import ExitCode


class Demo(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHARGEBACK_DEMO_", extra="ignore")

    lake_url: str
    port: int = Field(8080, ge=0, le=65535)
    secret: SecretStr | None = None
    aliased: int = Field(1, validation_alias="OTHER_NAME")
    teams: dict[str, str] = {}


@pytest.fixture
def env(monkeypatch):
    for name in ("CHARGEBACK_DEMO_LAKE_URL", "CHARGEBACK_DEMO_PORT", "CHARGEBACK_DEMO_TEAMS", "OTHER_NAME"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_problem_names_its_variable_on_one_line(env):
    env.setenv("CHARGEBACK_DEMO_PORT", "99999-TOPSECRET")
    env.setenv("OTHER_NAME", "x")
    with pytest.raises(ConfigurationError) as info:
        load_settings(Demo, what="demo configuration")
    message = str(info.value)
    assert info.value.exit_code == ExitCode.CONFIG and "\n" not in message
    assert message.startswith("invalid demo configuration: ")
    assert "CHARGEBACK_DEMO_LAKE_URL: is required" in message
    assert "CHARGEBACK_DEMO_PORT: Input should be a valid integer" in message
    assert "OTHER_NAME: Input should be a valid integer" in message
    assert "TOPSECRET" not in message and "lake_url" not in message and "errors.pydantic.dev" not in message


def test_a_value_that_is_not_json_names_its_variable(env):
    env.setenv("CHARGEBACK_DEMO_LAKE_URL", "/lake")
    env.setenv("CHARGEBACK_DEMO_TEAMS", "{not json TOPSECRET")
    with pytest.raises(ConfigurationError) as info:
        load_settings(Demo)
    assert str(info.value) == "invalid configuration: CHARGEBACK_DEMO_TEAMS: is not valid JSON"


def test_valid_settings_load(env):
    env.setenv("CHARGEBACK_DEMO_LAKE_URL", "/lake")
    assert load_settings(Demo, port=1).port == 1
    assert env_variable(Demo, "port") == "CHARGEBACK_DEMO_PORT"
    assert env_variable(Demo, "aliased") == "OTHER_NAME"
