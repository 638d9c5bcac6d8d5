"""The LLM-log record API Management would write for one exchange, for `policy simulate --llm-log`.

The gateway counts tokens from the response itself (the `usage` object of a JSON body, or of the last SSE event
of a stream that carries one: it needs `stream_options.include_usage`, which our policy injects). This module does
the same from the exchange, independently of the policy's C#, so the demo and the tests can feed the consumer's
second source with realistic records (schemas/llm_log.py decodes them). Field names follow the
`ApiManagementGatewayLlmLog` table; Azure Monitor wraps them in its resource-log envelope.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from producer_policy.harness.exchange import HttpRequest, HttpResponse

RESOURCE_ID = (
    "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG"
    "/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM"
)
_DEPLOYMENT = re.compile(r"/deployments/([^/]+)/(.+)$")
_OPERATIONS = {
    "chat/completions": "ChatCompletions_Create",
    "completions": "Completions_Create",
    "embeddings": "embeddings_create",
    "responses": "Responses_Create",
}


def _events(body: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a response body: the body itself, or each `data:` event of a stream."""
    text = body.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except ValueError:
            return []
        return [value] if isinstance(value, dict) else []
    found = []
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if not data or data == "[DONE]":
            continue
        try:
            value = json.loads(data)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _is_stream(request: HttpRequest) -> bool:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("stream") is True


def diagnostic_document(
    request: HttpRequest, response: HttpResponse, *, correlation_id: str, when: datetime, region: str
) -> dict[str, Any]:
    """`{"records": [...]}` as a diagnostic setting sends it to Event Hubs for this exchange (one record)."""
    events = _events(response.body)
    usage = next((e["usage"] for e in reversed(events) if isinstance(e.get("usage"), dict)), {})
    model_request_id = next((e["id"] for e in events if isinstance(e.get("id"), str) and e["id"]), "")
    model = next((e["model"] for e in events if isinstance(e.get("model"), str) and e["model"]), None)
    path = urlsplit(request.url)
    match = _DEPLOYMENT.search(path.path)
    deployment = match.group(1) if match else request.matched.get("deployment-id")
    operation = _OPERATIONS.get(match.group(2).strip("/")) if match else None
    details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    properties: dict[str, Any] = {
        "ApiId": "azure-openai",
        "OperationName": operation,
        "CorrelationId": correlation_id,
        "RequestId": model_request_id,
        "DeploymentName": deployment,
        "ModelName": model,
        "ApiVersion": (parse_qs(path.query).get("api-version") or [None])[0],
        "PromptTokens": usage.get("prompt_tokens"),
        "CompletionTokens": usage.get("completion_tokens"),
        "TotalTokens": usage.get("total_tokens"),
        "IsStreamCompletion": _is_stream(request),
        "SequenceNumber": 0,
        "Region": region,
        "TimeGenerated": when.isoformat().replace("+00:00", "Z"),
    }
    if isinstance(details.get("cached_tokens"), int):
        properties["PromptCachedTokens"] = details["cached_tokens"]
    record = {
        "time": properties["TimeGenerated"],
        "resourceId": RESOURCE_ID,
        "category": "GatewayLlmLogs",
        "operationName": "Microsoft.ApiManagement/GatewayLlmLogs",
        "properties": {k: v for k, v in properties.items() if v is not None},
    }
    return {"records": [record]}
