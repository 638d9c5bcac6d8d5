"""Realistic Azure OpenAI exchanges (shapes from the public Azure OpenAI REST reference) and expected records."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from producer_policy.harness.exchange import CallContext, Exchange, HttpRequest, HttpResponse
from producer_policy.harness.policy import DEFAULT_NAMED_VALUES

AOAI = "https://my-aoai.openai.azure.com"
GATEWAY = "https://contoso-apim.azure-api.net"
CLIENT_IP = "203.0.113.7"
SUBSCRIPTION_KEY = "5f0c6d4a9b8e4f21a7c3d2e1f0a9b8c7"
JSON = {"Content-Type": ["application/json"]}
SSE = {"Content-Type": ["text/event-stream"]}


def chat_url(deployment: str = "gpt-4o", api_version: str = "2024-10-21", op: str = "chat/completions") -> str:
    return f"/openai/deployments/{deployment}/{op}?api-version={api_version}"


def request(
    path: str, body: Any = None, headers: dict[str, list[str]] | None = None, method: str = "POST"
) -> HttpRequest:
    raw = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    base = {**JSON, "x-team": ["alpha"], "x-cost-center": ["cc-1234"], "Ocp-Apim-Subscription-Key": [SUBSCRIPTION_KEY]}
    return HttpRequest(method=method, url=GATEWAY + path, headers={**base, **(headers or {})}, body=raw, ip=CLIENT_IP)


def exchange(req: HttpRequest, resp: HttpResponse | None, ctx: CallContext | None = None, **kw: Any) -> Exchange:
    backend = AOAI + req.url[len(GATEWAY) :] if req.url.startswith(GATEWAY) else req.url
    return Exchange(request=req, response=resp, context=ctx or CallContext(), backend_url=backend, **kw)


def json_response(status: int, body: Any, headers: dict[str, list[str]] | None = None) -> HttpResponse:
    return HttpResponse(
        status, {**JSON, "x-ms-region": ["Sweden Central"], **(headers or {})}, json.dumps(body).encode()
    )


def sse(*events: Any, done: bool = True) -> bytes:
    lines = []
    for event in events:
        if isinstance(event, tuple):
            name, data = event
            lines.append(f"event: {name}\ndata: {json.dumps(data)}\n\n")
        else:
            lines.append(f"data: {json.dumps(event)}\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def hashed_ip(ip: str = CLIENT_IP, salt: str = DEFAULT_NAMED_VALUES["chargeback-ip-salt"]) -> str:
    return hmac.new(salt.encode(), ip.encode(), hashlib.sha256).hexdigest()


def expected(ctx: CallContext, **overrides: Any) -> dict[str, Any]:
    """The usage record as the reference decoder dumps it, for the default context and request."""
    stamp = ctx.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    record: dict[str, Any] = {
        "schema_version": 1,
        "record_id": ctx.request_id,
        "event_time": stamp.replace(".000000Z", "Z"),
        "duration_ms": int(ctx.elapsed_ms),
        "status_code": 200,
        "operation": "chat.completions",
        "stream": False,
        "api_version": "2024-10-21",
        "deployment": "gpt-4o",
        "model": None,
        "region": "Sweden Central",
        "backend_id": "my-aoai.openai.azure.com",
        "gateway_id": "managed",
        "service_name": "contoso-apim",
        "subscription_id": "sub-team-alpha",
        "subscription_name": "Team Alpha",
        "product_id": "ai-standard",
        "api_id": "azure-openai",
        "operation_id": "chat-completions-create",
        "user_id": "alice",
        "client_ip": hashed_ip(),
        "tags": {"team": "alpha", "cost-center": "cc-1234"},
        "prompt_tokens": None,
        "completion_tokens": None,
        "total_tokens": None,
        "cached_tokens": None,
        "reasoning_tokens": None,
        "usage_source": "reported",
        "error_code": None,
    }
    record.update(overrides)
    return record


CHAT_BODY = {"messages": [{"role": "user", "content": "Summarise the quarterly report."}], "max_tokens": 200}

CHAT_COMPLETION = {
    "id": "chatcmpl-AZ1",
    "object": "chat.completion",
    "created": 1740000000,
    "model": "gpt-4o-2024-11-20",
    "system_fingerprint": "fp_b705f0c291",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "The report shows growth.", "refusal": None},
            "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
        }
    ],
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False}}}],
    "usage": {
        "prompt_tokens": 1520,
        "completion_tokens": 310,
        "total_tokens": 1830,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 192,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
}

EMBEDDINGS = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.0023, -0.0093, 0.0157]}],
    "model": "text-embedding-3-large",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}

RESPONSES = {
    "id": "resp_67cb",
    "object": "response",
    "created_at": 1741476542,
    "status": "completed",
    "model": "o4-mini-2025-04-16",
    "output": [
        {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    ],
    "usage": {
        "input_tokens": 328,
        "input_tokens_details": {"cached_tokens": 128},
        "output_tokens": 1052,
        "output_tokens_details": {"reasoning_tokens": 896},
        "total_tokens": 1380,
    },
}


def chat_chunk(content: str | None, *, model: str = "gpt-4o-2024-11-20", finish: str | None = None) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {
        "id": "chatcmpl-AZ2",
        "object": "chat.completion.chunk",
        "created": 1740000001,
        "model": model,
        "system_fingerprint": "fp_b705f0c291",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "content_filter_results": {}}],
        "usage": None,
    }


AZURE_PROMPT_FILTER_CHUNK = {
    "id": "",
    "object": "",
    "created": 0,
    "model": "",
    "choices": [],
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False}}}],
}

FINAL_USAGE_CHUNK = {
    "id": "chatcmpl-AZ2",
    "object": "chat.completion.chunk",
    "created": 1740000001,
    "model": "gpt-4o-2024-11-20",
    "choices": [],
    "usage": {
        "prompt_tokens": 42,
        "completion_tokens": 17,
        "total_tokens": 59,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}


def streamed_chat(with_usage: bool) -> bytes:
    events: list[Any] = [
        AZURE_PROMPT_FILTER_CHUNK,
        chat_chunk("Hel"),
        chat_chunk("lo"),
        chat_chunk(None, finish="stop"),
    ]
    if with_usage:
        events.append(FINAL_USAGE_CHUNK)
    return sse(*events)


def streamed_responses() -> bytes:
    created = {
        "type": "response.created",
        "sequence_number": 0,
        "response": {**RESPONSES, "status": "in_progress", "usage": None},
    }
    delta = {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "delta": "Hi"}
    done = {"type": "response.completed", "sequence_number": 2, "response": RESPONSES}
    return sse(
        ("response.created", created), ("response.output_text.delta", delta), ("response.completed", done), done=False
    )


RATE_LIMITED = {
    "error": {
        "code": "429",
        "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have "
        "exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after 6 seconds.",
    }
}

CONTENT_FILTERED = {
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {"violence": {"filtered": True, "severity": "medium"}},
        },
    }
}
