"""Checkpoints (the SDK's BlobCheckpointStore) and flush state (pyarrow) land in the same container and prefix.

Issue 19: `schemas/lake.py` and `consumer/checkpoint_blob.py` used to split a `*.dfs.core.windows.net` URL
differently (the second took the container for the account), so the two halves of the consumer's state went to
different places. Both now come from one reading (common/storage/urls.py).
"""

from __future__ import annotations

import pytest

from common.storage.location import BlobLocation, open_location
from consumer.checkpoint_blob import open_blob_checkpoint_store
from consumer.flush_state import FlushStateStore


def _store_place(location: BlobLocation) -> tuple[str, str]:
    """(container URL, prefix) where BlobCheckpointStore will read and write."""
    store, _credential = open_blob_checkpoint_store(location)
    client = store._container_client  # the only way to see where the SDK will write
    prefix = getattr(client, "_prefix", "")
    inner = getattr(client, "_inner", client)
    return inner.url.rstrip("/"), prefix.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "https://acct01.dfs.core.windows.net/state/ckpt/prod",
        "https://acct01.blob.core.windows.net/state/ckpt/prod",
        "abfss://state@acct01.dfs.core.windows.net/ckpt/prod",
        "https://acct01.dfs.core.windows.net/state",
        "http://127.0.0.1:10000/devstoreaccount1/state/ckpt",
    ],
)
def test_checkpoints_and_flush_state_share_container_and_prefix(url):
    connection = "AccountName=devstoreaccount1;AccountKey=a2V5" if url.startswith("http://") else None
    location = open_location(url, connection_string=connection, check=False)
    assert isinstance(location, BlobLocation)
    container_url, prefix = _store_place(location)
    flush = FlushStateStore(location, "ns.servicebus.windows.net", "usage", "$Default")
    container, _, flush_prefix = flush.directory.partition("/")
    assert container_url == f"{location.storage_url.account_url}/{container}"
    assert flush_prefix.startswith(f"{prefix}/flushstate/" if prefix else "flushstate/")
    assert container_url.endswith("/state")
