"""Secrets never leave the process: SAS signatures, account keys, shared access keys, bearer tokens and auth headers
are masked wherever they appear in a text; a log field whose *name* says it holds a secret is masked whole.

One redaction for every stage; `common.logs` applies it to every log line, and the `chargeback` shell
(`common.shell`) to every error line it prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

# The secret elements of connection strings and SAS tokens, as `name=value`, URL-encoded `name%3Dvalue`, and the
# mistyped `name: value` / `name:value` / `'name': 'value'` forms. The value runs to the next separator.
_SECRETS = re.compile(
    r"(?i)(\b(?:sig|AccountKey|SharedAccessKey|SharedAccessSignature|account_key|sas_token)[\"']?"
    r"(?:\s*[=:]\s*|%3D)[\"']?)[^&;\s\"',}\]]+",
)
_HEADERS = re.compile(r"(?i)((?:Authorization|Ocp-Apim-Subscription-Key|api-key)[\"']?\s*[:=]\s*[\"']?)[^\r\n,\"']+")
_BEARER = re.compile(r"(?i)(\bBearer\s+)[A-Za-z0-9\-._~+/]+=*")
# A JSON Web Token on its own (an access token pasted without `Bearer`): header.payload.signature, base64url.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# Log fields whose value is a secret by name, whatever it looks like.
_SECRET_FIELD = re.compile(
    r"(?i)^(?:.*_)?(?:password|secret|token|api_?key|account_?key|subscription_?key|sas|signature|credential|"
    r"connection_?string|authorization)$"
)


def redact(text: str) -> str:
    """`text` with every secret it holds replaced by `***`."""
    text = _SECRETS.sub(rf"\g<1>{MASK}", text)
    text = _HEADERS.sub(rf"\g<1>{MASK}", text)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    return _JWT.sub(MASK, text)


def is_secret_field(name: str) -> bool:
    """Whether a log field named `name` holds a secret (`connection_string`, `sas_token`, `api_key`...)."""
    return bool(_SECRET_FIELD.match(name))


def redact_value(value: Any) -> Any:
    """A log field with its secrets masked: strings directly, containers element by element."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: MASK if _masked(key, item) else redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


def redact_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A structured log line with its secrets masked: by field name, then by content."""
    return {key: MASK if _masked(key, value) else redact_value(value) for key, value in fields.items()}


def _masked(key: object, value: object) -> bool:
    if not isinstance(key, str) or value is None or value == "" or isinstance(value, bool | int | float):
        return False
    return is_secret_field(key)


def describe(exc: BaseException, limit: int = 500) -> str:
    """`Type: message` for a log line, secrets masked, bounded."""
    return redact(f"{type(exc).__name__}: {exc}")[:limit]


def safe_url(url: str) -> str:
    """A location for a log line: without its query string (which could carry a SAS token)."""
    return url.split("?", 1)[0]
