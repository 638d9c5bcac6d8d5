"""One settings base for what the stages share (common/settings.py), extended per stage."""

from __future__ import annotations

import pytest

from aggregator.settings import AggregatorSettings
from common.settings import StageSettings
from consumer.settings import ConsumerSettings

KEY = "a2V5LW5ldmVyLWluLWEtcmVwcg=="
CONNECTION = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
BLOB_SHEET = "https://acct01.blob.core.windows.net/config/finops/prices.csv"


@pytest.fixture
def environment(monkeypatch):
    for name, value in {
        "CHARGEBACK_LAKE_URL": "http://127.0.0.1:10000/devstoreaccount1/lake",
        "CHARGEBACK_CHECKPOINT_URL": "http://127.0.0.1:10000/devstoreaccount1/checkpoints",
        "CHARGEBACK_STORAGE_CONNECTION_STRING": CONNECTION,
        "CHARGEBACK_EVENTHUB_CONNECTION_STRING": "Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=k;SharedAccessKey=v",
        "CHARGEBACK_EVENTHUB_NAME": "usage",
        "CHARGEBACK_LOG_LEVEL": "debug",
        "CHARGEBACK_PRICE_SHEET": BLOB_SHEET,
    }.items():
        monkeypatch.setenv(name, value)


def test_both_stages_read_the_shared_variables_the_same_way(environment):
    consumer, aggregator = ConsumerSettings(), AggregatorSettings()
    for settings in (consumer, aggregator):
        assert isinstance(settings, StageSettings)
        assert settings.lake_url == "http://127.0.0.1:10000/devstoreaccount1/lake"
        assert settings.storage_connection == CONNECTION
        assert settings.log_level == "DEBUG"
        assert KEY not in repr(settings) and KEY not in str(settings.model_dump())


def test_a_configuration_file_url_stays_a_url(environment):
    """The Bicep passes a blob URL as CHARGEBACK_PRICE_SHEET; it used to become the local path 'https:/acct01...'."""
    assert AggregatorSettings().price_sheet_location() == BLOB_SHEET


def test_an_unknown_log_level_is_refused(environment, monkeypatch):
    monkeypatch.setenv("CHARGEBACK_LOG_LEVEL", "chatty")
    with pytest.raises(ValueError, match="log_level"):
        AggregatorSettings()
