"""Secrets never leave the process: SAS signatures, account keys, shared access keys and auth headers are masked.

One redaction for every stage; `common.logs` applies it to every log line, and the `chargeback` shell to every
error line it prints.
"""

from __future__ import annotations

import re
from typing import Any

# `name=value` and the mistyped `name: value` / `name:value` forms of connection-string and SAS secrets.
_SECRETS = re.compile(
    r"(?i)((?:sig|AccountKey|SharedAccessKey|SharedAccessSignature)\s*[=:]\s*)[^&;\s\"',}]+",
)
_HEADERS = re.compile(r"(?i)((?:Authorization|Ocp-Apim-Subscription-Key|api-key)[\"']?\s*[:=]\s*)[^\r\n,\"']+")
_BEARER = re.compile(r"(?i)(\bBearer\s+)[A-Za-z0-9\-._~+/]+=*")


def redact(text: str) -> str:
    """`text` with every secret it holds replaced by `***`."""
    return _BEARER.sub(r"\1***", _HEADERS.sub(r"\1***", _SECRETS.sub(r"\1***", text)))


def redact_value(value: Any) -> Any:
    """A log field with its secrets masked: strings directly, containers element by element."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


def describe(exc: BaseException, limit: int = 500) -> str:
    """`Type: message` for a log line, secrets masked, bounded."""
    return redact(f"{type(exc).__name__}: {exc}")[:limit]


def safe_url(url: str) -> str:
    """A location for a log line: without its query string (which could carry a SAS token)."""
    return url.split("?", 1)[0]
