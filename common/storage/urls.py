"""The one reading of a storage location string: a local path, or a Blob container (and a path inside it).

Accepted forms (README, "Storage locations"):

- a local path: `./lake`, `/var/lib/chargeback/lake`, `file:///data/lake`, `C:/lake`
- Azure: `https://ACCOUNT.blob.core.windows.net/CONTAINER[/PATH]`, `https://ACCOUNT.dfs.core.windows.net/CONTAINER[/PATH]`,
  `abfs[s]://CONTAINER@ACCOUNT.dfs.core.windows.net[/PATH]` (other clouds' `core.*` suffixes too); authenticated with
  DefaultAzureCredential (a managed identity is named by `AZURE_CLIENT_ID`)
- an emulator (Azurite), path-style: `http://HOST:PORT/ACCOUNT/CONTAINER[/PATH]`, authenticated only with the
  emulator's connection string

Whatever the form, the same URL names the same account, container and path for every consumer of it (the pyarrow
file system, the Blob SDK, the Event Hubs checkpoint store), so the `dfs` and `blob` spellings of one container agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit

from common.storage.errors import StorageLocationError

_AZURE_HOST = re.compile(r"^(?P<account>[a-z0-9]{3,24})\.(?:blob|dfs)\.(?P<suffix>core\.[a-z0-9.-]+)$")
_CONTAINER = re.compile(r"^(?:\$root|\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


class StorageKind(StrEnum):
    LOCAL = "local"
    AZURE = "azure"
    EMULATOR = "emulator"


@dataclass(frozen=True)
class StorageUrl:
    """A parsed location. For Blob: `account`, `container`, `path` (inside the container, no slashes at the ends)."""

    given: str
    kind: StorageKind
    local_path: str = ""
    account: str = ""
    container: str = ""
    path: str = ""
    scheme: str = "https"
    endpoint_suffix: str = "core.windows.net"
    """Azure: the DNS suffix after `blob.` / `dfs.`."""
    authority: str = ""
    """Emulator: `host:port`."""

    @property
    def is_local(self) -> bool:
        return self.kind is StorageKind.LOCAL

    @property
    def account_url(self) -> str:
        """The Blob service endpoint the SDK wants (the `blob` endpoint, also for a `dfs` or `abfss` URL)."""
        if self.kind is StorageKind.AZURE:
            return f"https://{self.account}.blob.{self.endpoint_suffix}"
        if self.kind is StorageKind.EMULATOR:
            return f"{self.scheme}://{self.authority}/{self.account}"
        raise StorageLocationError(f"{self.masked} is a local path, not a Blob location")

    @property
    def masked(self) -> str:
        """The location for a log or error line: never a query string, user info or secret."""
        if self.kind is StorageKind.LOCAL:
            return self.local_path
        return "/".join(part for part in (self.account_url, self.container, self.path) if part)

    @property
    def root(self) -> str:
        """The location inside its pyarrow file system: a local path, or `CONTAINER[/PATH]`."""
        if self.kind is StorageKind.LOCAL:
            return self.local_path
        return "/".join(part for part in (self.container, self.path) if part)

    def child(self, name: str) -> StorageUrl:
        """The location of `name` under this one (a configuration file under a configuration container, say)."""
        name = name.strip("/")
        if self.kind is StorageKind.LOCAL:
            return replace(self, local_path=str(Path(self.local_path) / name))
        return replace(self, path="/".join(p for p in (self.path, name) if p))


def mask_location(text: str) -> str:
    """A location string made safe to print even when it cannot be parsed: no query, fragment or user info."""
    text = text.strip().split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = text.partition("://")
    if sep and "@" in rest.split("/", 1)[0] and not scheme.startswith("abfs"):
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"[:300]


def _local(given: str, path: str, shown: str) -> StorageUrl:
    try:
        resolved = Path(path).expanduser().resolve()
    except (RuntimeError, OSError, ValueError) as exc:  # an unknown ~user, a symlink loop, a NUL byte
        raise StorageLocationError(f"{shown!r} is not a usable local path ({type(exc).__name__})") from None
    return StorageUrl(given, StorageKind.LOCAL, local_path=str(resolved))


def _segments(path: str) -> list[str]:
    return [unquote(s) for s in path.split("/") if s]


def _check_container(container: str, shown: str) -> None:
    if not _CONTAINER.match(container):
        raise StorageLocationError(
            f"{shown}: {container[:70]!r} is not a container name (3-63 lowercase letters, digits and single hyphens)"
        )


def _check_path(segments: list[str], shown: str) -> None:
    if any(s in (".", "..") or "\\" in s for s in segments):
        raise StorageLocationError(f"{shown}: the path inside the container may not contain '.', '..' or '\\'")


def parse_storage_url(location: str) -> StorageUrl:
    """Read a location string; a `StorageLocationError` (exit 3) says what is wrong without echoing a secret."""
    if not isinstance(location, str) or not location.strip():
        raise StorageLocationError("the location is empty")
    given = location.strip()
    shown = mask_location(given)
    if any(ord(c) < 32 for c in given):
        raise StorageLocationError(f"{shown!r} contains control characters")
    if _WINDOWS_DRIVE.match(given):
        return _local(given, given, shown)
    try:
        split = urlsplit(given)
        port = split.port
    except ValueError as exc:
        raise StorageLocationError(f"{shown}: not a URL ({exc})") from None
    scheme = split.scheme.lower()
    if scheme == "":
        return _local(given, given, shown)
    if scheme == "file":
        if split.netloc not in ("", "localhost"):
            raise StorageLocationError(f"{shown}: a file:// URL names a local path (file:///path)")
        return _local(given, unquote(split.path), shown)
    if scheme not in ("http", "https", "abfs", "abfss"):
        raise StorageLocationError(
            f"{shown}: expected a local path, https://ACCOUNT.blob.core.windows.net/CONTAINER[/PATH], "
            "abfss://CONTAINER@ACCOUNT.dfs.core.windows.net[/PATH] or an emulator's http://HOST:PORT/ACCOUNT/CONTAINER"
        )
    if split.query or split.fragment:
        raise StorageLocationError(
            f"{shown}: a location may not carry a query string (a SAS token?); on Azure the identity is used, "
            "on an emulator its connection string"
        )
    host = (split.hostname or "").lower()
    if not host:
        raise StorageLocationError(f"{shown}: no host")
    azure = _AZURE_HOST.match(host)
    segments = _segments(split.path)
    if scheme in ("abfs", "abfss"):
        if not azure or not split.username:
            raise StorageLocationError(
                f"{shown}: an abfs[s] URL is abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH"
            )
        container = unquote(split.username)
        _check_container(container, shown)
        _check_path(segments, shown)
        return StorageUrl(
            given,
            StorageKind.AZURE,
            account=azure["account"],
            container=container,
            path="/".join(segments),
            endpoint_suffix=azure["suffix"],
        )
    if split.username or split.password:
        raise StorageLocationError(f"{shown}: credentials in the URL are not accepted")
    if azure:
        if scheme != "https":
            raise StorageLocationError(f"{shown}: Azure Storage is reached over https://")
        if port not in (None, 443):
            raise StorageLocationError(f"{shown}: an Azure Storage URL has no port")
        if not segments:
            raise StorageLocationError(f"{shown} names no container (https://ACCOUNT.blob.core.windows.net/CONTAINER)")
        _check_container(segments[0], shown)
        _check_path(segments[1:], shown)
        return StorageUrl(
            given,
            StorageKind.AZURE,
            account=azure["account"],
            container=segments[0],
            path="/".join(segments[1:]),
            endpoint_suffix=azure["suffix"],
        )
    if host.endswith(".windows.net") or host.endswith(".azure.com"):
        raise StorageLocationError(f"{shown}: not a storage account endpoint (ACCOUNT.blob.core.windows.net)")
    if len(segments) < 2:
        raise StorageLocationError(f"{shown}: an emulator URL is http://HOST:PORT/ACCOUNT/CONTAINER[/PATH]")
    _check_container(segments[1], shown)
    _check_path(segments[2:], shown)
    return StorageUrl(
        given,
        StorageKind.EMULATOR,
        account=segments[0],
        container=segments[1],
        path="/".join(segments[2:]),
        scheme=scheme,
        authority=split.netloc,
    )
