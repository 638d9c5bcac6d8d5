"""APIM's LLM logs as they arrive on Event Hubs: Azure Monitor resource-log batches, decoded into `llm_log` rows.

A diagnostic setting on the API Management service (category `GatewayLlmLogs`, table
`ApiManagementGatewayLlmLog` in Log Analytics) streams one JSON document per event:
`{"records": [{"time", "resourceId", "category", "operationName", "properties": {...}}, ...]}` (Azure Monitor's
resource-log schema). The properties carry the gateway request id as `CorrelationId` (the policy's
`context.RequestId`, our `record_id`), the model's own `RequestId`, `DeploymentName`, `ModelName`,
`OperationName`, `ApiVersion`, `PromptTokens`, `CompletionTokens`, `TotalTokens`, `IsStreamCompletion`,
`SequenceNumber` (large messages are split over rows), `Region` and `TimeGenerated`. Property names have been seen
in PascalCase and camelCase, so keys are matched without regard to case.

Every input ends somewhere: a row, a skipped connectivity probe (an empty model `RequestId`), a record of another
category (counted, not stored), or a dead letter with a reason (`llm_log_not_json` for a batch that is not a JSON
resource-log document, `llm_log_invalid` for one record that breaks the rules below). Nothing here raises on input.

What only a real instance can confirm is listed in README.md ("LLM logs: what to confirm on a real instance").
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from schemas.arrow import LLM_LOG_SCHEMA

CATEGORY = "gatewayllmlogs"
"""The diagnostic category, compared case-insensitively."""
MAX_TOKENS = 2**53 - 1
MAX_TEXT = 256

__all__ = ["CATEGORY", "LLM_LOG_SCHEMA", "DecodedBatch", "Rejected", "decode_batch", "normalise_request_id"]


@dataclass(frozen=True)
class Rejected:
    reason: str
    detail: str


@dataclass
class DecodedBatch:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    probes: int = 0
    other_categories: int = 0


class _Invalid(ValueError):
    pass


def decode_batch(body: bytes) -> DecodedBatch:
    """Every record of one Event Hubs message from a diagnostic setting, sorted into rows, probes and rejects."""
    batch = DecodedBatch()
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        batch.rejected.append(Rejected("llm_log_not_json", f"not JSON: {type(exc).__name__}"))
        return batch
    records = _lower(document).get("records") if isinstance(document, dict) else None
    if not isinstance(records, list):
        batch.rejected.append(Rejected("llm_log_not_json", "not a resource-log document: no `records` array"))
        return batch
    for index, record in enumerate(records):
        try:
            row = _row(record)
        except _Invalid as exc:
            batch.rejected.append(Rejected("llm_log_invalid", f"records[{index}]: {exc}"))
            continue
        if row is None:
            batch.other_categories += 1
        elif isinstance(row, str):  # "probe"
            batch.probes += 1
        else:
            batch.rows.append(row)
    return batch


def normalise_request_id(value: object) -> str:
    """A gateway request id as the policy writes it (`context.RequestId`: a lower-case hyphenated GUID)."""
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("CorrelationId is missing")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise _Invalid("CorrelationId is not a GUID") from None


def _lower(mapping: dict[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in mapping.items()}


def _row(record: object) -> dict[str, Any] | Literal["probe"] | None:
    if not isinstance(record, dict):
        raise _Invalid("a record is not an object")
    top = _lower(record)
    category = top.get("category")
    if not isinstance(category, str):
        raise _Invalid("category is missing")
    if category.lower() != CATEGORY:
        return None
    properties = top.get("properties")
    if isinstance(properties, str):  # some pipelines deliver properties as JSON text
        try:
            properties = json.loads(properties)
        except (ValueError, RecursionError):
            raise _Invalid("properties is not JSON") from None
    if not isinstance(properties, dict):
        raise _Invalid("properties is not an object")
    props = _lower(properties)
    model_request_id = props.get("requestid")
    if model_request_id in (None, ""):
        return "probe"
    if not isinstance(model_request_id, str):
        raise _Invalid("RequestId is not a string")
    tokens = {name: _tokens(props, key) for name, key in _TOKEN_KEYS}
    if (
        tokens["total_tokens"] is None
        and tokens["prompt_tokens"] is not None
        and tokens["completion_tokens"] is not None
    ):
        tokens["total_tokens"] = tokens["prompt_tokens"] + tokens["completion_tokens"]
    cached, prompt = tokens["cached_tokens"], tokens["prompt_tokens"]
    if cached is not None and prompt is not None and cached > prompt:
        raise _Invalid("cached tokens exceed prompt tokens")
    stream = props.get("isstreamcompletion")
    if stream is not None and not isinstance(stream, bool):
        if isinstance(stream, str) and stream.lower() in ("true", "false"):
            stream = stream.lower() == "true"
        else:
            raise _Invalid("IsStreamCompletion is not a boolean")
    sequence = props.get("sequencenumber")
    if sequence is not None and (isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0):
        raise _Invalid("SequenceNumber is not a non-negative integer")
    return {
        "record_id": normalise_request_id(props.get("correlationid")),
        "time_generated": _time(props.get("timegenerated") or top.get("time")),
        "model_request_id": _text(model_request_id, "RequestId"),
        "deployment": _text(props.get("deploymentname"), "DeploymentName"),
        "model": _text(props.get("modelname"), "ModelName"),
        "operation": _text(props.get("operationname"), "OperationName"),
        "api_version": _text(props.get("apiversion"), "ApiVersion"),
        "region": _text(props.get("region"), "Region"),
        **tokens,
        "is_stream": stream,
        "sequence_number": sequence,
        "resource_id": _text(top.get("resourceid"), "resourceId", limit=1024),
    }


_TOKEN_KEYS = (
    ("prompt_tokens", "prompttokens"),
    ("completion_tokens", "completiontokens"),
    ("total_tokens", "totaltokens"),
    ("cached_tokens", "promptcachedtokens"),
)


def _tokens(props: dict[str, Any], key: str) -> int | None:
    value = props.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        raise _Invalid(f"{key} is not a token count")
    return value


def _text(value: object, name: str, limit: int = MAX_TEXT) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{name} is not a string")
    if len(value) > limit:
        raise _Invalid(f"{name} is longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid(f"{name} is not valid Unicode") from None
    return value


def _time(value: object) -> datetime:
    if not isinstance(value, str) or not value:
        raise _Invalid("TimeGenerated is missing")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:  # Azure writes 7 fractional digits; Python keeps 6
        head, _, rest = text.partition(".")
        count = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:count][:6].ljust(6, '0')}{rest[count:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid("TimeGenerated is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise _Invalid("TimeGenerated has no time zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise _Invalid("TimeGenerated is out of range") from None
