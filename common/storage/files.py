"""Configuration files (price sheet, deployments map, PTU config, teams map, budgets...): a local path or a Blob URL,
read whole under the same location and credential rules as the lake, with a digest to record what a run used."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from common.storage.connection import StorageSecret
from common.storage.credentials import (
    blob_credential,
    check_identity,
    client_options,
    close_credential,
    describe_failure,
    resolve_secret,
)
from common.storage.errors import StorageLocationError
from common.storage.urls import StorageKind, StorageUrl, parse_storage_url

MAX_CONFIG_BYTES = 64 * 1024 * 1024
"""A configuration file larger than this is refused rather than read into memory."""


@dataclass(frozen=True)
class ConfigFile:
    """The bytes of one configuration file, their SHA-256 and where they came from (masked: safe to record)."""

    data: bytes
    sha256: str
    location: str
    what: str = "configuration file"

    def text(self) -> str:
        """The content as text (UTF-8, a byte-order mark allowed); anything else is a configuration error."""
        try:
            return self.data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise StorageLocationError(f"{self.what} {self.location} is not UTF-8 text (byte {exc.start})") from None


def _local(path: str, what: str) -> bytes:
    file = Path(path)
    try:
        if not file.is_file():
            raise StorageLocationError(
                f"{what} {path} does not exist" + (" (it is a directory)" if file.is_dir() else "")
            )
        if file.stat().st_size > MAX_CONFIG_BYTES:
            raise StorageLocationError(f"{what} {path} is larger than {MAX_CONFIG_BYTES // 2**20} MiB")
        return file.read_bytes()
    except OSError as exc:
        raise StorageLocationError(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}") from None


def _download(url: StorageUrl, secret: StorageSecret | None, credential: Any, what: str) -> bytes:
    from azure.storage.blob import BlobClient

    if secret is None:
        check_identity(url, credential)
    try:
        with BlobClient(url.account_url, url.container, url.path, credential=credential, **client_options(url)) as blob:
            size = blob.get_blob_properties().size
            if size > MAX_CONFIG_BYTES:
                raise StorageLocationError(f"{what} {url.masked} is larger than {MAX_CONFIG_BYTES // 2**20} MiB")
            return blob.download_blob().readall()
    except ResourceNotFoundError:
        raise StorageLocationError(f"{what} {url.masked} does not exist") from None
    except StorageLocationError:
        raise
    except Exception as exc:
        raise describe_failure(url, exc, "read") from None


def read_config_file(
    location: str | Path, *, connection_string: str | None = None, what: str = "configuration file"
) -> ConfigFile:
    """Read a configuration file from a local path or a Blob URL (`https://ACCOUNT.blob.core.windows.net/CONTAINER/
    PATH`, or an emulator's URL with its connection string). Missing or unreadable: exit 3; storage unavailable or
    refusing the credential: exit 5; every message names the masked location, never a secret."""
    url = parse_storage_url(str(location))
    if url.kind is StorageKind.LOCAL:
        data = _local(url.local_path, what)
    else:
        if not url.path:
            raise StorageLocationError(f"{what} {url.masked} names a container, not a file in it")
        secret = resolve_secret(url, connection_string)
        credential = blob_credential(url, secret)
        try:
            data = _download(url, secret, credential, what)
        finally:
            close_credential(credential)
    return ConfigFile(data, hashlib.sha256(data).hexdigest(), url.masked, what)
