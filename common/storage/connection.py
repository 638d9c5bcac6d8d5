"""Storage connection strings (`Name=value;Name=value`), accepted for emulators only (Azurite)."""

from __future__ import annotations

from dataclasses import dataclass

from common.storage.errors import StorageLocationError

CONNECTION_STRING_VARIABLE = "CHARGEBACK_STORAGE_CONNECTION_STRING"


def parse_connection_string(connection_string: str, *, what: str = "the connection string") -> dict[str, str]:
    """The `Name=value` pairs of a connection string. An element without `=` is refused without quoting it (a
    mistyped `AccountKey:...` would otherwise echo the key back)."""
    parts: dict[str, str] = {}
    for number, item in enumerate(connection_string.split(";"), start=1):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StorageLocationError(f"{what}: element {number} is not Name=value")
        parts[key.strip()] = value.strip()
    return parts


@dataclass(frozen=True, repr=False)
class StorageSecret:
    """The credential part of an emulator's connection string: the account and either its key or a SAS."""

    account: str
    account_key: str | None = None
    sas_token: str | None = None
    blob_endpoint: str | None = None

    def __repr__(self) -> str:  # never show the key
        return f"StorageSecret(account={self.account!r})"


def storage_secret(connection_string: str) -> StorageSecret:
    parts = parse_connection_string(connection_string, what=CONNECTION_STRING_VARIABLE)
    account = parts.get("AccountName", "")
    key = parts.get("AccountKey") or None
    sas = (parts.get("SharedAccessSignature") or "").lstrip("?") or None
    if not key and not sas:
        raise StorageLocationError(f"{CONNECTION_STRING_VARIABLE} has neither AccountKey= nor SharedAccessSignature=")
    if key and not account:
        raise StorageLocationError(f"{CONNECTION_STRING_VARIABLE} has an AccountKey but no AccountName=")
    return StorageSecret(account, key, sas, parts.get("BlobEndpoint") or None)
