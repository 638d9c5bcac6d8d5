"""Which credential reaches a Blob location, and a probe that proves it works before native code touches it.

- Azure (`*.blob|dfs.core.windows.net`, `abfss://`): `DefaultAzureCredential` (managed identity, named by
  `AZURE_CLIENT_ID` when user-assigned; workload identity; environment; `az login` on a workstation). A connection
  string is refused there: keys and SAS tokens do not belong in the product's configuration.
- An emulator (Azurite): only its connection string (`AccountKey=` or `SharedAccessSignature=`).

pyarrow's Azure file system resolves credentials in C++ and aborts the whole process (`terminate called ...
AuthenticationException`) when none works, so `probe` asks the Python SDK first: one token and one listing of at
most one blob. A failure becomes one line naming the masked location and the cause, exit 5.
"""

from __future__ import annotations

import os
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from common.redact import redact
from common.storage.connection import CONNECTION_STRING_VARIABLE, StorageSecret, storage_secret
from common.storage.errors import StorageLocationError, StorageUnavailableError
from common.storage.urls import StorageKind, StorageUrl

STORAGE_SCOPE = "https://storage.azure.com/.default"
EMULATOR_API_VERSION = "2025-01-05"
"""Azurite 3.35 (the newest that runs on Node 20) refuses azure-storage-blob 12.31's default API version."""
CLIENT_OPTIONS: dict[str, Any] = {"connection_timeout": 10, "read_timeout": 60}
"""A command should answer in seconds: the storage SDK's default retry waits 15 s, then 45 s more."""


def resolve_secret(url: StorageUrl, connection_string: str | None) -> StorageSecret | None:
    """The emulator's key or SAS for `url` (None for Azure and local paths); the connection-string rules."""
    connection_string = (connection_string or "").strip() or None
    if url.kind is StorageKind.LOCAL:
        return None
    if url.kind is StorageKind.AZURE:
        if connection_string:
            raise StorageLocationError(
                f"{CONNECTION_STRING_VARIABLE} is for emulators only: {url.masked} is reached with the identity "
                "(DefaultAzureCredential); unset the connection string"
            )
        return None
    if not connection_string:
        raise StorageUnavailableError(
            f"cannot use {url.masked}: no credential (an emulator location needs {CONNECTION_STRING_VARIABLE})"
        )
    secret = storage_secret(connection_string)
    if secret.account and secret.account != url.account:
        raise StorageLocationError(
            f"{url.masked} names account {url.account!r} but {CONNECTION_STRING_VARIABLE} is for {secret.account!r}"
        )
    return secret


def _key_credential(url: StorageUrl, secret: StorageSecret) -> AzureNamedKeyCredential | AzureSasCredential:
    if secret.account_key:
        return AzureNamedKeyCredential(secret.account or url.account, secret.account_key)
    return AzureSasCredential(secret.sas_token or "")


def default_credential(*, aio: bool = False) -> Any:
    """DefaultAzureCredential (the async one for the Event Hubs checkpoint store)."""
    if aio:
        from azure.identity.aio import DefaultAzureCredential as AsyncDefaultAzureCredential

        return AsyncDefaultAzureCredential()
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def blob_credential(url: StorageUrl, secret: StorageSecret | None, *, aio: bool = False) -> Any:
    """The credential object the Blob SDK takes for `url`."""
    if secret is not None:
        return _key_credential(url, secret)
    return default_credential(aio=aio)


def client_options(url: StorageUrl) -> dict[str, Any]:
    from azure.storage.blob import ExponentialRetry

    options = dict(CLIENT_OPTIONS)
    options["retry_policy"] = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2)
    if url.kind is StorageKind.EMULATOR:
        options["api_version"] = EMULATOR_API_VERSION
    return options


def container_client(url: StorageUrl, secret: StorageSecret | None, credential: Any = None) -> Any:
    from azure.storage.blob import ContainerClient

    return ContainerClient(
        url.account_url,
        url.container,
        credential=credential if credential is not None else blob_credential(url, secret),
        **client_options(url),
    )


def pyarrow_options(url: StorageUrl, secret: StorageSecret | None) -> dict[str, str]:
    """Keyword arguments of `pyarrow.fs.AzureFileSystem` for the same account, endpoint and credential."""
    options: dict[str, str] = {}
    if url.kind is StorageKind.EMULATOR:
        options |= {
            "blob_storage_authority": url.authority,
            "dfs_storage_authority": url.authority,
            "blob_storage_scheme": url.scheme,
            "dfs_storage_scheme": url.scheme,
        }
    elif url.endpoint_suffix != "core.windows.net":
        options |= {
            "blob_storage_authority": f".blob.{url.endpoint_suffix}",
            "dfs_storage_authority": f".dfs.{url.endpoint_suffix}",
        }
    if secret is not None:
        if secret.account_key:
            options["account_key"] = secret.account_key
        else:
            options["sas_token"] = secret.sas_token or ""
    elif client_id := os.environ.get("AZURE_CLIENT_ID", "").strip():
        options["client_id"] = client_id
    return options


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)[:200]


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "error_code", None) or ""
    return str(getattr(code, "value", code))[:80]


def _cause(url: StorageUrl, exc: BaseException) -> str:
    """Why a Blob call failed, in the words of the README's troubleshooting list."""
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return f"unreachable ({_first_line(exc)})"
    status = getattr(exc, "status_code", None)
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        code = _error_code(exc) or f"HTTP {status}"
        if url.kind is StorageKind.EMULATOR:
            return f"forbidden ({code}: the connection string's key or SAS was refused)"
        return f"forbidden ({code}: the identity needs the Storage Blob Data Reader or Contributor role)"
    if isinstance(exc, HttpResponseError):
        return f"HTTP {status} {_error_code(exc)}".strip()
    return _first_line(exc)


def check_identity(url: StorageUrl, credential: Any) -> None:
    """Azure: get one storage token now, so "no identity" is told apart from "the identity was refused"."""
    try:
        credential.get_token(STORAGE_SCOPE)
    except Exception as exc:  # azure-identity raises several types, all meaning "no usable identity"
        raise StorageUnavailableError(
            f"cannot use {url.masked}: no credential (DefaultAzureCredential found no identity: set up a managed "
            f"identity, AZURE_CLIENT_ID, or `az login`; {_first_line(exc)})"
        ) from None


def describe_failure(url: StorageUrl, exc: BaseException, doing: str = "use") -> StorageUnavailableError:
    return StorageUnavailableError(f"cannot {doing} {url.masked}: {_cause(url, exc)}")


def close_credential(credential: Any) -> None:
    """DefaultAzureCredential holds HTTP sessions; key and SAS credentials hold nothing."""
    close = getattr(credential, "close", None)
    if close is not None:
        close()


def probe(url: StorageUrl, secret: StorageSecret | None) -> None:
    """Prove the credential works on `url` before any native code uses it: a token (Azure), then one listing of at
    most one blob under the path. A missing container passes (the service answered, so the credential is good):
    whether the location must exist is the caller's question (a reader says "no lake", a writer creates it)."""
    if url.kind is StorageKind.LOCAL:
        return
    credential = blob_credential(url, secret)
    try:
        if secret is None:
            check_identity(url, credential)
        with container_client(url, secret, credential) as client:
            pages = client.list_blobs(name_starts_with=f"{url.path}/" if url.path else None, results_per_page=1)
            next(iter(pages.by_page()), None)
    except ResourceNotFoundError as exc:
        if _error_code(exc) not in ("", "ContainerNotFound"):
            raise describe_failure(url, exc) from None
    except StorageUnavailableError:
        raise
    except Exception as exc:
        raise describe_failure(url, exc) from None
    finally:
        close_credential(credential)
