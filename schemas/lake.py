"""Where the lake is, and how it is laid out: the contract between the consumer (writer) and the aggregator.

A location is a local directory or a Blob container URL with an optional prefix:

- `/var/lib/chargeback/lake`, `./lake`, `file:///data/lake`
- `https://<account>.blob.core.windows.net/<container>[/<prefix>]` (Azure; Microsoft Entra ID via
  DefaultAzureCredential, or the user-assigned identity named by `AZURE_CLIENT_ID`)
- `http://127.0.0.1:10000/<account>/<container>[/<prefix>]` (Azurite, path-style; needs the emulator's
  connection string)

Layout under the location: `<table>/event_date=YYYY-MM-DD/event_hour=HH/<file>.parquet` for the stream tables
(`usage`, `payloads`, `dead_letters`); derived tables live beside them under their own names.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from schemas.errors import LakeLocationError

STREAM_TABLES: tuple[str, ...] = ("usage", "payloads", "dead_letters")


def parse_connection_string(connection_string: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in connection_string.split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise LakeLocationError(f"connection string element {key[:40]!r} has no '='")
        parts[key.strip()] = value.strip()
    return parts


@dataclass(frozen=True)
class LakeLocation:
    url: str
    filesystem: pafs.FileSystem
    root: str
    """Path of the location inside `filesystem` (for Blob: `<container>/<prefix>`), no trailing slash."""
    is_local: bool

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *[p.strip("/") for p in parts if p]])

    def table_root(self, table: str) -> str:
        return self.path(table)

    def partition_dir(self, table: str, moment: datetime) -> str:
        return self.path(table, f"event_date={moment:%Y-%m-%d}", f"event_hour={moment:%H}")

    @property
    def container(self) -> str | None:
        return None if self.is_local else self.root.split("/", 1)[0]

    def ensure_root(self) -> None:
        self.filesystem.create_dir(self.root, recursive=True)

    def exists(self) -> bool:
        info = self.filesystem.get_file_info(self.root)
        return info.type == pafs.FileType.Directory

    @staticmethod
    def temporary_path(path: str) -> str:
        """A hidden sibling (leading `.`: dataset readers skip it, `*.parquet` globs do not match it)."""
        directory, _, name = path.rpartition("/")
        return f"{directory}/.{name}.tmp-{uuid.uuid4().hex}"

    def publish(self, temporary: str, path: str) -> None:
        """Make a finished temporary file visible under its final name at once: a rename locally; on Blob a
        server-side copy then a delete (flat-namespace accounts cannot rename, and pyarrow creates an empty blob
        as soon as a write starts, so writing in place would show readers an empty or partial file)."""
        if self.is_local:
            self.filesystem.move(temporary, path)
            return
        self.filesystem.copy_file(temporary, path)
        self.filesystem.delete_file(temporary)

    def write_parquet(self, table: pa.Table, path: str, **options: object) -> None:
        """Write `table` to `path` so that readers see either the old file or the whole new one."""
        temporary = self.temporary_path(path)
        pq.write_table(table, temporary, filesystem=self.filesystem, **options)
        self.publish(temporary, path)


def open_location(url: str, *, connection_string: str | None = None) -> LakeLocation:
    """Resolve a lake or checkpoint URL to a pyarrow filesystem and a root path inside it."""
    if not url or not url.strip():
        raise LakeLocationError("the location is empty")
    url = url.strip()
    split = urlsplit(url)
    if split.scheme in ("", "file") or (len(split.scheme) == 1 and url[1:3] in (":\\", ":/")):
        local = Path(split.path if split.scheme == "file" else url).expanduser().resolve()
        return LakeLocation(url, pafs.LocalFileSystem(), str(local), True)
    if split.scheme not in ("http", "https"):
        raise LakeLocationError(f"{url!r}: expected a local path or an http(s) Blob container URL")
    segments = [s for s in split.path.split("/") if s]
    host = split.hostname or ""
    if host.endswith(".blob.core.windows.net") or host.endswith(".dfs.core.windows.net"):
        account = host.split(".", 1)[0]
        authority = None
    else:
        if not segments:
            raise LakeLocationError(f"{url!r}: an emulator URL is http://host:port/<account>/<container>[/prefix]")
        account = segments.pop(0)
        authority = split.netloc
    if not segments:
        raise LakeLocationError(f"{url!r} names no container")
    kwargs: dict[str, str] = {}
    if authority:
        kwargs |= {
            "blob_storage_authority": authority,
            "dfs_storage_authority": authority,
            "blob_storage_scheme": split.scheme,
            "dfs_storage_scheme": split.scheme,
        }
    if connection_string:
        parts = parse_connection_string(connection_string)
        if parts.get("AccountName", account) != account:
            raise LakeLocationError(
                f"{url!r} names account {account!r} but the connection string is for {parts['AccountName']!r}"
            )
        if "AccountKey" in parts:
            kwargs["account_key"] = parts["AccountKey"]
        elif "SharedAccessSignature" in parts:
            kwargs["sas_token"] = parts["SharedAccessSignature"]
    elif client_id := os.environ.get("AZURE_CLIENT_ID"):
        kwargs["client_id"] = client_id
    filesystem = pafs.AzureFileSystem(account, **kwargs)
    return LakeLocation(url, filesystem, "/".join(segments), False)
