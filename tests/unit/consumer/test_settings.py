"""Configuration errors name every missing or invalid variable; defaults are the documented ones."""

from __future__ import annotations

import pytest

from consumer.errors import ConfigError
from consumer.settings import load_settings

REQUIRED = {
    "CHARGEBACK_EVENTHUB_CONNECTION_STRING": "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=k;SharedAccessKey=v",
    "CHARGEBACK_EVENTHUB_NAME": "usage",
    "CHARGEBACK_CHECKPOINT_URL": "/tmp/ckpt",
    "CHARGEBACK_LAKE_URL": "/tmp/lake",
}


@pytest.fixture
def env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("CHARGEBACK_"):
            monkeypatch.delenv(key)
    for key, value in REQUIRED.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_defaults(env):
    settings = load_settings()
    assert settings.consumer_group == "$Default"
    assert settings.start_position == "earliest"
    assert settings.health_port == 8080
    assert settings.hub_name == "usage"
    assert "SharedAccessKey=v" not in repr(settings)


def test_every_problem_is_named_at_once(env):
    env.delenv("CHARGEBACK_LAKE_URL")
    env.delenv("CHARGEBACK_EVENTHUB_CONNECTION_STRING")
    env.setenv("CHARGEBACK_FLUSH_MAX_ROWS", "many")
    env.setenv("CHARGEBACK_START_POSITION", "middle")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    for name in (
        "CHARGEBACK_LAKE_URL",
        "CHARGEBACK_FLUSH_MAX_ROWS",
        "CHARGEBACK_START_POSITION",
        "CHARGEBACK_EVENTHUB_CONNECTION_STRING or CHARGEBACK_EVENTHUB_NAMESPACE",
    ):
        assert name in message


def test_namespace_with_managed_identity_and_hub_from_entity_path(env):
    env.delenv("CHARGEBACK_EVENTHUB_CONNECTION_STRING")
    env.setenv("CHARGEBACK_EVENTHUB_NAMESPACE", "ns.servicebus.windows.net")
    assert load_settings().eventhub_namespace == "ns.servicebus.windows.net"
    env.delenv("CHARGEBACK_EVENTHUB_NAMESPACE")
    env.delenv("CHARGEBACK_EVENTHUB_NAME")
    env.setenv(
        "CHARGEBACK_EVENTHUB_CONNECTION_STRING", REQUIRED["CHARGEBACK_EVENTHUB_CONNECTION_STRING"] + ";EntityPath=h"
    )
    assert load_settings().hub_name == "h"


def test_connection_string_without_endpoint_is_rejected(env):
    env.setenv("CHARGEBACK_EVENTHUB_CONNECTION_STRING", "SharedAccessKeyName=k;SharedAccessKey=secret")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "Endpoint" in str(info.value) and "secret" not in str(info.value)


LOG_CS = "Endpoint=sb://127.0.0.1:5673;SharedAccessKeyName=k;SharedAccessKey=secret-log-key;EntityPath=llmlogs"


def test_the_llm_log_hub_is_off_unless_named(env):
    settings = load_settings()
    assert not settings.llm_log_enabled


def test_the_llm_log_hub_has_its_own_connection_and_consumer_group(env):
    env.setenv("CHARGEBACK_LLM_LOG_EVENTHUB_CONNECTION_STRING", LOG_CS)
    env.setenv("CHARGEBACK_LLM_LOG_CONSUMER_GROUP", "chargeback")
    settings = load_settings()
    assert settings.llm_log_enabled
    hub = settings.llm_log_settings()
    assert (hub.hub_name, hub.consumer_group, hub.namespace) == ("llmlogs", "chargeback", "127.0.0.1:5673")
    assert (settings.hub_name, settings.consumer_group) == ("usage", "$Default")  # the usage hub is untouched
    assert hub.flush_max_rows == settings.flush_max_rows
    assert "secret-log-key" not in repr(settings)


def test_the_llm_log_hub_with_managed_identity(env):
    env.setenv("CHARGEBACK_LLM_LOG_EVENTHUB_NAMESPACE", "logs-ns.servicebus.windows.net")
    env.setenv("CHARGEBACK_LLM_LOG_EVENTHUB_NAME", "llmlogs")
    hub = load_settings().llm_log_settings()
    assert (hub.namespace, hub.hub_name, hub.eventhub_connection_string) == (
        "logs-ns.servicebus.windows.net",
        "llmlogs",
        None,
    )


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"CHARGEBACK_LLM_LOG_EVENTHUB_NAME": "llmlogs"}, "CHARGEBACK_LLM_LOG_EVENTHUB_CONNECTION_STRING"),
        ({"CHARGEBACK_LLM_LOG_EVENTHUB_NAMESPACE": "logs.servicebus.windows.net"}, "CHARGEBACK_LLM_LOG_EVENTHUB_NAME"),
        ({"CHARGEBACK_LLM_LOG_EVENTHUB_CONNECTION_STRING": "SharedAccessKey=secret-x"}, "has no Endpoint="),
        ({"CHARGEBACK_LLM_LOG_EVENTHUB_CONNECTION_STRING": "not a connection string"}, "LLM_LOG"),
        (
            {
                "CHARGEBACK_LLM_LOG_EVENTHUB_CONNECTION_STRING": REQUIRED["CHARGEBACK_EVENTHUB_CONNECTION_STRING"],
                "CHARGEBACK_LLM_LOG_EVENTHUB_NAME": "USAGE",
            },
            "the LLM-log hub is the usage hub",
        ),
    ],
    ids=["name-only", "no-name", "no-endpoint", "garbage", "same-hub"],
)
def test_an_unusable_llm_log_hub_is_a_config_error_naming_it(env, variables, expected):
    for key, value in variables.items():
        env.setenv(key, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert expected in str(caught.value)
    assert "secret-x" not in str(caught.value)


def test_another_hub_of_the_usage_namespace_is_allowed(env):
    env.setenv("CHARGEBACK_LLM_LOG_EVENTHUB_CONNECTION_STRING", REQUIRED["CHARGEBACK_EVENTHUB_CONNECTION_STRING"])
    env.setenv("CHARGEBACK_LLM_LOG_EVENTHUB_NAME", "llmlogs")
    assert load_settings().llm_log_settings().hub_name == "llmlogs"
