"""The one door through which the FinOps stage reads a configuration file: a local path or a Blob URL, with digest.

Kept behind this one function so it can move onto the shared reader in common/ without touching its callers.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from common.redact import safe_url
from finops.errors import BudgetsConfigError
from schemas.errors import LakeLocationError
from schemas.lake import open_location

MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ConfigText:
    source: str
    text: str
    digest: str
    """`sha256:<hex>` of the bytes read: recorded beside every result computed from the file."""


def read_config_file(url: str, *, setting: str, connection_string: str | None = None) -> ConfigText:
    """The file's text (UTF-8) and digest, or one line naming `setting` and what is wrong."""
    where = f"{setting}={safe_url(url)}"
    if urlsplit(url).scheme in ("http", "https"):
        directory, name = posixpath.split(url.split("?", 1)[0].rstrip("/"))
        try:
            location = open_location(directory, connection_string=connection_string)
            with location.filesystem.open_input_stream(location.path(name)) as stream:
                data = stream.read(MAX_CONFIG_BYTES + 1)
        except (LakeLocationError, OSError) as exc:
            raise BudgetsConfigError(f"{where}: cannot read it ({type(exc).__name__})") from None
    else:
        path = Path(url).expanduser()
        if not path.is_file():
            raise BudgetsConfigError(f"{where}: no such file")
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise BudgetsConfigError(f"{where}: cannot read it ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise BudgetsConfigError(f"{where}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BudgetsConfigError(f"{where}: not UTF-8 (byte {exc.start})") from None
    return ConfigText(safe_url(url), text, "sha256:" + hashlib.sha256(data).hexdigest())
