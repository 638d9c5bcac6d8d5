"""A storage location as a pyarrow file system and a root inside it, chosen once (local or Blob) by `open_location`.

Every writer publishes atomically through `Location.publish`: a file is written under a hidden temporary name (a
leading `.`, which dataset readers skip and `*.parquet` globs do not match) and then made visible under its final
name at once: a rename on a local disk; on Blob a server-side copy then a delete (flat-namespace accounts cannot
rename, and pyarrow creates an empty blob as soon as a write starts, so writing in place would show readers an empty
or partial file).
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pydantic import SecretStr

from common.storage.connection import StorageSecret
from common.storage.credentials import blob_credential, container_client, probe, pyarrow_options, resolve_secret
from common.storage.urls import StorageKind, StorageUrl, parse_storage_url


class Location(ABC):
    """A directory (local) or a container with an optional prefix (Blob), seen through a pyarrow file system."""

    def __init__(self, url: StorageUrl, filesystem: pafs.FileSystem) -> None:
        self.storage_url = url
        self.filesystem = filesystem
        self.root = url.root
        """Path of the location inside `filesystem` (Blob: `CONTAINER[/PREFIX]`), no trailing slash."""

    @property
    def url(self) -> str:
        """The location as it may be printed or recorded (masked: no query string, no secret)."""
        return self.storage_url.masked

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *[p.strip("/") for p in parts if p]])

    def ensure_root(self) -> None:
        self.filesystem.create_dir(self.root, recursive=True)

    def exists(self) -> bool:
        return bool(self.filesystem.get_file_info(self.root).type == pafs.FileType.Directory)

    @staticmethod
    def temporary_path(path: str) -> str:
        """A hidden sibling of `path` to write before `publish`."""
        directory, _, name = path.rpartition("/")
        return f"{directory}/.{name}.tmp-{uuid.uuid4().hex}"

    @abstractmethod
    def publish(self, temporary: str, path: str) -> None:
        """Make a finished temporary file visible under its final name at once."""

    def write_parquet(self, table: pa.Table, path: str, **options: Any) -> None:
        """Write `table` to `path` so that readers see either the old file or the whole new one."""
        temporary = self.temporary_path(path)
        pq.write_table(table, temporary, filesystem=self.filesystem, **options)
        self.publish(temporary, path)

    def write_bytes(self, data: bytes, path: str) -> None:
        """Write a small file (state, a configuration file) atomically, like `write_parquet`."""
        temporary = self.temporary_path(path)
        with self.filesystem.open_output_stream(temporary) as stream:
            stream.write(data)
        self.publish(temporary, path)

    @abstractmethod
    @contextmanager
    def local_copies(self, paths: list[str]) -> Iterator[list[str]]:
        """The files at `paths` as local files (for readers that only read a local disk), in the same order."""


class LocalLocation(Location):
    def publish(self, temporary: str, path: str) -> None:
        self.filesystem.move(temporary, path)

    @contextmanager
    def local_copies(self, paths: list[str]) -> Iterator[list[str]]:
        yield list(paths)


class BlobLocation(Location):
    def __init__(self, url: StorageUrl, filesystem: pafs.FileSystem, secret: StorageSecret | None) -> None:
        super().__init__(url, filesystem)
        self._secret = secret
        self._container: Any = None
        self._container_lock = threading.Lock()

    def credential(self, *, aio: bool = False) -> Any:
        """A Blob SDK credential for this location (the emulator's key or SAS, or DefaultAzureCredential)."""
        return blob_credential(self.storage_url, self._secret, aio=aio)

    def _container_client(self) -> Any:
        """One Blob SDK container client for this location, made on first use (thread-safe, like its calls)."""
        with self._container_lock:
            if self._container is None:
                self._container = container_client(self.storage_url, self._secret)
            return self._container

    def publish(self, temporary: str, path: str) -> None:
        """A server-side copy, then the temporary blob deleted through the Blob SDK: pyarrow's `delete_file` also
        re-checks the parent directory and, with a few writers at once, took 7-30 s a file on Azurite (the consumer's
        partitions flushing together stalled `consume --until-idle` for minutes)."""
        self.filesystem.copy_file(temporary, path)
        container, _, blob = temporary.partition("/")
        if container != self.storage_url.container:
            raise ValueError(f"{temporary!r} is not in container {self.storage_url.container!r}")
        self._container_client().delete_blob(blob)

    @contextmanager
    def local_copies(self, paths: list[str]) -> Iterator[list[str]]:
        """Download each file whole into a temporary directory, removed afterwards."""
        if not paths:
            yield []
            return
        local_fs = pafs.LocalFileSystem()
        with tempfile.TemporaryDirectory(prefix="chargeback-") as directory:
            copies = []
            for index, path in enumerate(paths):
                copy = f"{directory}/{index:06d}.parquet"
                pafs.copy_files(path, copy, source_filesystem=self.filesystem, destination_filesystem=local_fs)
                copies.append(copy)
            yield copies


def open_location(location: str, *, connection_string: str | SecretStr | None = None, check: bool = True) -> Location:
    """The factory: read `location` once and return a `LocalLocation` or a `BlobLocation`.

    For Blob the credential is resolved and, with `check` (the default; off only where nothing may touch the
    network), probed in Python before pyarrow's native code sees it. Errors: a malformed location or connection
    string is a `StorageLocationError` (exit 3); no credential, forbidden or unreachable a `StorageUnavailableError`
    (exit 5). Whether the location exists is the caller's question (`exists`, `ensure_root`).
    """
    url = parse_storage_url(location)
    if url.kind is StorageKind.LOCAL:
        return LocalLocation(url, pafs.LocalFileSystem())
    secret = resolve_secret(url, connection_string)
    if check:
        probe(url, secret)
    return BlobLocation(url, pafs.AzureFileSystem(url.account, **pyarrow_options(url, secret)), secret)
