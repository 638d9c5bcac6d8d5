"""The SDK's `BlobCheckpointStore` (aio) on a Blob location, with the location's path as a prefix in the container.

The account, container and prefix come from the same `common.storage` reading of the URL as the lake files and the
flush state (consumer/flush_state.py), so checkpoints and flush state always land side by side.
"""

from __future__ import annotations

from typing import Any

from azure.eventhub.extensions.checkpointstoreblobaio import BlobCheckpointStore
from azure.eventhub.extensions.checkpointstoreblobaio._vendor.storage.blob.aio import ContainerClient

from common.storage.location import BlobLocation

CHECKPOINT_API_VERSION = "2019-07-07"
"""What `BlobCheckpointStore` itself pins (its vendored storage client), also accepted by Azurite."""


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


def open_blob_checkpoint_store(location: BlobLocation) -> tuple[BlobCheckpointStore, Any]:
    """The store and the credential it holds (to close when done: DefaultAzureCredential's aio form has sessions)."""
    url = location.storage_url
    credential = location.credential(aio=True)
    kwargs: dict[str, Any] = {}
    if url.path:
        inner = ContainerClient(
            url.account_url,
            url.container,
            credential=credential,
            api_version=CHECKPOINT_API_VERSION,
            headers={"x-ms-version": CHECKPOINT_API_VERSION},
        )
        kwargs["container_client"] = _PrefixedContainer(inner, url.path)
    return BlobCheckpointStore(url.account_url, url.container, credential=credential, **kwargs), credential
