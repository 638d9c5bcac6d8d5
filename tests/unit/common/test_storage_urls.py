"""One reading of every storage location string (common/storage/urls.py) and of the emulator connection string."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import ConfigurationError, UnavailableError
from common.storage import StorageKind, parse_storage_url
from common.storage.credentials import pyarrow_options, resolve_secret

KEY = "c2VjcmV0LWtleS1ub3QtZm9yLWxvZ3M="
EMULATOR_CS = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"


@pytest.mark.parametrize(
    ("url", "account", "container", "path"),
    [
        ("https://acct01.blob.core.windows.net/lake", "acct01", "lake", ""),
        ("https://acct01.blob.core.windows.net/lake/prod/eu", "acct01", "lake", "prod/eu"),
        ("https://acct01.dfs.core.windows.net/lake/prod/", "acct01", "lake", "prod"),
        ("abfss://lake@acct01.dfs.core.windows.net/prod", "acct01", "lake", "prod"),
        ("abfs://lake@acct01.dfs.core.windows.net", "acct01", "lake", ""),
        ("HTTPS://ACCT01.BLOB.CORE.WINDOWS.NET/lake", "acct01", "lake", ""),
    ],
)
def test_azure_urls(url, account, container, path):
    parsed = parse_storage_url(url)
    assert (parsed.kind, parsed.account, parsed.container, parsed.path) == (StorageKind.AZURE, account, container, path)
    assert parsed.account_url == f"https://{account}.blob.core.windows.net"


def test_the_blob_and_dfs_spellings_of_one_container_are_one_location():
    """The defect of issue 19: schemas/lake.py and consumer/checkpoint_blob.py split a dfs URL differently."""
    spellings = [
        "https://acct01.blob.core.windows.net/state/ckpt",
        "https://acct01.dfs.core.windows.net/state/ckpt",
        "abfss://state@acct01.dfs.core.windows.net/ckpt",
    ]
    parsed = {(p.account_url, p.container, p.path, p.root) for p in map(parse_storage_url, spellings)}
    assert parsed == {("https://acct01.blob.core.windows.net", "state", "ckpt", "state/ckpt")}


def test_emulator_urls_are_path_style():
    parsed = parse_storage_url("http://127.0.0.1:10000/devstoreaccount1/lake/prod")
    assert parsed.kind is StorageKind.EMULATOR
    assert (parsed.account, parsed.container, parsed.path) == ("devstoreaccount1", "lake", "prod")
    assert parsed.account_url == "http://127.0.0.1:10000/devstoreaccount1"
    assert parsed.masked == "http://127.0.0.1:10000/devstoreaccount1/lake/prod"


@pytest.mark.parametrize("url", ["./lake", "/var/lib/lake", "file:///var/lib/lake", "~/lake"])
def test_local_paths(url, tmp_path):
    parsed = parse_storage_url(url)
    assert parsed.kind is StorageKind.LOCAL and parsed.local_path.startswith("/")
    assert parsed.local_path.endswith("lake")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "ftp://host/x",
        "https://acct01.blob.core.windows.net",
        "https://acct01.blob.core.windows.net/Upper_Case",
        "https://acct01.blob.core.windows.net/lake/../etc",
        "http://acct01.blob.core.windows.net/lake",
        "https://acct01.blob.core.windows.net:8443/lake",
        "https://login.microsoftonline.com.windows.net/x/y",
        "http://127.0.0.1:10000/devstoreaccount1",
        "http://127.0.0.1:notaport/devstoreaccount1/lake",
        "abfss://acct01.dfs.core.windows.net/lake",
        "https://user:pw@acct01.blob.core.windows.net/lake",
        "https://acct01.blob.core.windows.net/la\nke",
        "https://acct01.blob.core.windows.net/la\x00ke",
        "~nosuchuser0/lake",
    ],
)
def test_unusable_locations_are_configuration_errors(url):
    with pytest.raises(ConfigurationError):
        parse_storage_url(url)


def test_a_sas_in_the_url_is_refused_without_being_echoed():
    with pytest.raises(ConfigurationError) as caught:
        parse_storage_url("https://acct01.blob.core.windows.net/lake?sv=2024&sig=SECRETSIG")
    assert "SECRETSIG" not in str(caught.value) and "sv=" not in str(caught.value)


def test_an_emulator_needs_its_connection_string():
    url = parse_storage_url("http://127.0.0.1:10000/devstoreaccount1/lake")
    with pytest.raises(UnavailableError, match="no credential"):
        resolve_secret(url, None)
    secret = resolve_secret(url, EMULATOR_CS)
    assert secret is not None and secret.account_key == KEY and KEY not in repr(secret)
    options = pyarrow_options(url, secret)
    assert options["blob_storage_authority"] == "127.0.0.1:10000" and options["blob_storage_scheme"] == "http"


def test_connection_strings_are_for_emulators_only():
    with pytest.raises(ConfigurationError, match="emulators only"):
        resolve_secret(parse_storage_url("https://acct01.blob.core.windows.net/lake"), EMULATOR_CS)


def test_a_connection_string_for_another_account_is_refused():
    url = parse_storage_url("http://127.0.0.1:10000/otheraccount/lake")
    with pytest.raises(ConfigurationError, match="otheraccount"):
        resolve_secret(url, EMULATOR_CS)


@pytest.mark.parametrize("mistyped", [f"AccountName=devstoreaccount1;AccountKey:{KEY}", f"AccountKey {KEY}"])
def test_a_mistyped_connection_string_never_quotes_the_key(mistyped):
    url = parse_storage_url("http://127.0.0.1:10000/devstoreaccount1/lake")
    with pytest.raises(ConfigurationError) as caught:
        resolve_secret(url, mistyped)
    assert KEY not in str(caught.value) and KEY[:12] not in str(caught.value)


@given(st.text(max_size=200))
def test_any_string_is_a_location_or_a_configuration_error(text):
    try:
        parsed = parse_storage_url(text)
    except ConfigurationError as exc:
        assert "\n" not in str(exc)
        return
    assert parsed.kind in StorageKind


_ACCOUNTS = st.from_regex(r"[a-z0-9]{3,24}", fullmatch=True)
_CONTAINERS = st.from_regex(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,20}", fullmatch=True)
_PATHS = st.lists(st.from_regex(r"[A-Za-z0-9_=.-]{1,12}", fullmatch=True).filter(lambda s: s not in (".", "..")))


@given(_ACCOUNTS, _CONTAINERS, _PATHS)
def test_every_spelling_of_a_container_reads_the_same(account, container, path):
    suffix = "/".join(path)
    tail = f"/{suffix}" if suffix else ""
    spellings = [
        f"https://{account}.blob.core.windows.net/{container}{tail}",
        f"https://{account}.dfs.core.windows.net/{container}{tail}/",
        f"abfss://{container}@{account}.dfs.core.windows.net{tail}",
    ]
    read = {(u.account_url, u.container, u.path, u.root, u.masked) for u in map(parse_storage_url, spellings)}
    assert read == {
        (
            f"https://{account}.blob.core.windows.net",
            container,
            suffix,
            f"{container}{tail}",
            f"https://{account}.blob.core.windows.net/{container}{tail}",
        )
    }
