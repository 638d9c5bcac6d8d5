"""One API call as the harness replays it: the request, the backend's response and the gateway context."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Party:
    """An APIM entity with an id and a name (API, operation, product, user)."""

    id: str | None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str | None
    name: str | None
    key: str | None = None
    """The subscription key: present in the fake context so tests can prove it never leaves the policy."""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes | None = None
    ip: str | None = "203.0.113.7"
    matched: dict[str, str] = field(default_factory=dict)
    """Matched URL template parameters (e.g. deployment-id)."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class GatewayError:
    """A failure before our policy ran in `section` (auth, rate limit, backend unreachable): on-error runs."""

    section: str
    source: str
    reason: str
    message: str = ""
    status: int | None = None
    """The response status the failure set; None leaves no response (e.g. backend unreachable)."""


@dataclass(frozen=True, slots=True)
class CallContext:
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timestamp: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC))
    timestamp_kind: str = "utc"
    """`utc` or `unspecified`: the DateTime.Kind of context.Timestamp."""
    elapsed_ms: float = 812.4
    api: Party | None = field(default_factory=lambda: Party("azure-openai", "Azure OpenAI"))
    operation: Party | None = field(default_factory=lambda: Party("chat-completions-create", "Creates a completion"))
    product: Party | None = field(default_factory=lambda: Party("ai-standard", "AI Standard"))
    subscription: Subscription | None = field(
        default_factory=lambda: Subscription("sub-team-alpha", "Team Alpha", "5f0c6d4a9b8e4f21a7c3d2e1f0a9b8c7")
    )
    user: Party | None = field(default_factory=lambda: Party("alice"))
    service_name: str | None = "contoso-apim"
    region: str | None = "West Europe"
    gateway_id: str | None = "managed"


@dataclass(frozen=True, slots=True)
class Exchange:
    request: HttpRequest
    response: HttpResponse | None
    context: CallContext = field(default_factory=CallContext)
    gateway_error: GatewayError | None = None
    backend_url: str | None = None
    """The request URL the outbound section sees (the backend's); None keeps the original."""

    def to_json(self) -> dict[str, Any]:
        ctx = self.context

        def party(p: Party | None) -> dict[str, Any] | None:
            return None if p is None else {"id": p.id, "name": p.name}

        return {
            "request_id": ctx.request_id,
            "timestamp": ctx.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
            "timestamp_kind": ctx.timestamp_kind,
            "elapsed_ms": ctx.elapsed_ms,
            "api": party(ctx.api),
            "operation": party(ctx.operation),
            "product": party(ctx.product),
            "subscription": None
            if ctx.subscription is None
            else {"id": ctx.subscription.id, "name": ctx.subscription.name, "key": ctx.subscription.key},
            "user": party(ctx.user),
            "deployment": {"service_name": ctx.service_name, "region": ctx.region, "gateway_id": ctx.gateway_id},
            "request": {
                "method": self.request.method,
                "url": self.request.url,
                "headers": self.request.headers,
                "body_b64": None if self.request.body is None else base64.b64encode(self.request.body).decode(),
                "ip": self.request.ip,
                "matched": self.request.matched,
            },
            "response": None
            if self.response is None
            else {
                "status": self.response.status,
                "reason": self.response.reason,
                "headers": self.response.headers,
                "body_b64": base64.b64encode(self.response.body).decode(),
            },
            "gateway_error": None
            if self.gateway_error is None
            else {
                "section": self.gateway_error.section,
                "source": self.gateway_error.source,
                "reason": self.gateway_error.reason,
                "message": self.gateway_error.message,
                "status": self.gateway_error.status,
            },
            "backend_url": self.backend_url,
        }


@dataclass(frozen=True, slots=True)
class EmittedMessage:
    logger_id: str
    partition_key: str | None
    body: str


@dataclass(frozen=True, slots=True)
class ExpressionError:
    section: str
    expression: int | None
    error: str


@dataclass(frozen=True, slots=True)
class RunResult:
    messages: list[EmittedMessage]
    errors: list[ExpressionError]
    sections: list[str]
    request_consumed: bool
    response_consumed: bool
    forwarded_request_body: bytes | None
    expression_us: float
    expression_calls: int
    skipped: list[str]

    @classmethod
    def from_json(cls, answer: dict[str, Any]) -> RunResult:
        forwarded = answer.get("forwarded_request_b64")
        return cls(
            messages=[EmittedMessage(m["logger_id"], m["partition_key"], m["body"]) for m in answer["messages"]],
            errors=[ExpressionError(e["section"], e["expr"], e["error"]) for e in answer["errors"]],
            sections=list(answer["sections"]),
            request_consumed=bool(answer["request_consumed"]),
            response_consumed=bool(answer["response_consumed"]),
            forwarded_request_body=None if forwarded is None else base64.b64decode(forwarded),
            expression_us=float(answer["expression_us"]),
            expression_calls=int(answer["expression_calls"]),
            skipped=list(answer["skipped"]),
        )
