"""Configuration files read from a local path or Blob (Azurite) with a digest and a masked location."""

from __future__ import annotations

import hashlib

import pytest
from azure.storage.blob import BlobServiceClient

from common.errors import ConfigurationError, UnavailableError
from common.storage import read_config_file
from common.storage.credentials import EMULATOR_API_VERSION
from tests.support.azurite import KEY

CONTENT = b"model,deployment_type\ngpt-4o,standard\n"


def _upload(azurite, container: str, name: str, data: bytes) -> str:
    service = BlobServiceClient.from_connection_string(azurite.connection_string, api_version=EMULATOR_API_VERSION)
    client = service.get_container_client(container)
    if not client.exists():
        client.create_container()
    client.upload_blob(name, data, overwrite=True)
    return f"{azurite.blob_endpoint}/{container}/{name}"


def test_a_local_file_with_its_digest(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_bytes(CONTENT)
    config = read_config_file(path, what="price sheet")
    assert config.data == CONTENT and config.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert config.location == str(path)


def test_a_missing_local_file_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match=r"price sheet .* does not exist"):
        read_config_file(tmp_path / "nope.csv", what="price sheet")


def test_text_that_is_not_utf8_is_a_configuration_error(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_bytes(b"model\n\xff\xfe\n")
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        read_config_file(path).text()


def test_a_blob_with_its_digest_and_masked_location(azurite):
    url = _upload(azurite, "config", "finops/prices.csv", CONTENT)
    config = read_config_file(url, connection_string=azurite.connection_string, what="price sheet")
    assert config.data == CONTENT and config.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert config.location == url and config.text().startswith("model,")


def test_blob_failures_are_one_line_with_the_right_category(azurite):
    url = _upload(azurite, "config", "prices.csv", CONTENT)
    with pytest.raises(ConfigurationError, match="does not exist"):
        read_config_file(url.replace("prices.csv", "missing.csv"), connection_string=azurite.connection_string)
    with pytest.raises(UnavailableError, match="no credential"):
        read_config_file(url)
    wrong = azurite.connection_string.replace(KEY, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=")
    with pytest.raises(UnavailableError, match="forbidden") as caught:
        read_config_file(url, connection_string=wrong)
    assert "d3Jvbmcta2V5" not in str(caught.value) and "\n" not in str(caught.value)
    azurite.stop()
    with pytest.raises(UnavailableError, match="unreachable"):
        read_config_file(url, connection_string=azurite.connection_string)
