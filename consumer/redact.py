"""Secrets never reach the logs: SAS signatures, account keys and shared access keys are masked in any text."""

from __future__ import annotations

import re

_SECRETS = re.compile(r"(?i)(sig=|AccountKey=|SharedAccessKey=|SharedAccessSignature=)[^&;\s\"']+")
_HEADERS = re.compile(r"(?i)((?:Authorization|Ocp-Apim-Subscription-Key)[\"']?\s*[:=]\s*)[^\r\n,\"']+")


def redact(text: str) -> str:
    return _HEADERS.sub(r"\1***", _SECRETS.sub(r"\1***", text))


def describe(exc: BaseException, limit: int = 500) -> str:
    """`Type: message` for a log line, secrets masked, bounded."""
    return redact(f"{type(exc).__name__}: {exc}")[:limit]


def safe_url(url: str) -> str:
    """A location for a log line: without its query string (which could carry a SAS token)."""
    return url.split("?", 1)[0]
