"""The SDK's `BlobCheckpointStore` (aio) on a container URL, with an optional prefix inside the container."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from azure.eventhub.extensions.checkpointstoreblobaio import BlobCheckpointStore
from azure.eventhub.extensions.checkpointstoreblobaio._vendor.storage.blob.aio import ContainerClient

from consumer.errors import CheckpointStoreError
from schemas.lake import parse_connection_string


class _PrefixedContainer:
    """The two container calls BlobCheckpointStore makes, with every blob name under `prefix/`."""

    def __init__(self, inner: ContainerClient, prefix: str) -> None:
        self._inner = inner
        self._prefix = prefix.strip("/") + "/"

    async def __aenter__(self) -> _PrefixedContainer:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self._inner.__aexit__(*args)

    def get_blob_client(self, blob: str) -> Any:
        return self._inner.get_blob_client(self._prefix + blob)

    def list_blobs(self, name_starts_with: str | None = None, **kwargs: Any) -> Any:
        return self._inner.list_blobs(name_starts_with=self._prefix + (name_starts_with or ""), **kwargs)


def split_container_url(url: str) -> tuple[str, str, str]:
    """`(account URL, container, prefix)` from an Azure or path-style (emulator) container URL."""
    split = urlsplit(url)
    segments = [s for s in split.path.split("/") if s]
    host = split.hostname or ""
    if host.endswith(".blob.core.windows.net"):
        account_url = f"{split.scheme}://{split.netloc}"
    else:
        if not segments:
            raise CheckpointStoreError(f"{url!r}: an emulator URL is http://host:port/<account>/<container>[/prefix]")
        account_url = f"{split.scheme}://{split.netloc}/{segments.pop(0)}"
    if not segments:
        raise CheckpointStoreError(f"{url!r} names no container")
    return account_url, segments[0], "/".join(segments[1:])


def open_blob_checkpoint_store(
    url: str, *, connection_string: str | None = None, credential: Any = None
) -> BlobCheckpointStore:
    account_url, container, prefix = split_container_url(url)
    kwargs: dict[str, Any] = {}
    if connection_string:
        parts = parse_connection_string(connection_string)
        if "AccountKey" in parts:
            from azure.core.credentials import AzureNamedKeyCredential

            credential = AzureNamedKeyCredential(parts["AccountName"], parts["AccountKey"])
        elif "SharedAccessSignature" in parts:
            from azure.core.credentials import AzureSasCredential

            credential = AzureSasCredential(parts["SharedAccessSignature"])
    if prefix:
        inner = ContainerClient(
            account_url,
            container,
            credential=credential,
            api_version="2019-07-07",
            headers={"x-ms-version": "2019-07-07"},
        )
        kwargs["container_client"] = _PrefixedContainer(inner, prefix)
    return BlobCheckpointStore(account_url, container, credential=credential, **kwargs)
