"""Synthetic but realistic Azure OpenAI traffic through APIM, with the ground truth of every call.

Each call is an `Exchange` (the request the client sent, the response the backend returned, the gateway's
context) that the policy runs on, exactly as APIM would, plus a `Truth`: what the call really used, taken from
the response the generator wrote, never from the pipeline. Formats follow the public Azure OpenAI reference:
chat completions (JSON and SSE with Azure's leading `prompt_filter_results` chunk), the Responses API,
embeddings, and the error bodies of 429 / 400 content filter / 500.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from producer_policy.harness.exchange import CallContext, Exchange, HttpRequest, HttpResponse, Party, Subscription

GATEWAY = "https://contoso-apim.azure-api.net"
API_VERSION = "2024-10-21"


@dataclass(frozen=True)
class Team:
    name: str
    subscription_id: str
    subscription_name: str
    product_id: str
    cost_center: str
    project: str
    weight: float


@dataclass(frozen=True)
class Deployment:
    name: str
    model: str
    deployment_type: str
    """As the aggregator's deployments config names it: global, data_zone, regional, batch, provisioned."""
    api: str
    """chat, responses or embeddings."""
    region: str
    weight: float
    reasoning: bool = False
    listed: bool = True
    """False: not in the deployments config, so its usage must surface as unpriced."""


TEAMS: tuple[Team, ...] = (
    Team("search", "sub-search-prod", "Search relevance", "ai-premium", "CC-1001", "ranker", 0.30),
    Team("support", "sub-support-bot", "Customer support bot", "ai-standard", "CC-2002", "helpdesk", 0.28),
    Team("marketing", "sub-marketing", "Marketing content", "ai-standard", "CC-3003", "copywriter", 0.14),
    Team("finance", "sub-finance", "Finance analytics", "ai-premium", "CC-4004", "forecasting", 0.10),
    Team("research", "sub-research", "Applied research", "ai-premium", "CC-5005", "agents", 0.18),
)

DEPLOYMENTS: tuple[Deployment, ...] = (
    Deployment("gpt-4o", "gpt-4o-2024-11-20", "global", "chat", "Sweden Central", 0.22),
    Deployment("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "global", "chat", "East US 2", 0.24),
    Deployment("gpt-4.1-eu", "gpt-4.1-2025-04-14", "data_zone", "chat", "Sweden Central", 0.12),
    Deployment("o4-mini", "o4-mini-2025-04-16", "global", "responses", "East US 2", 0.10, reasoning=True),
    Deployment("text-embedding-3-large", "text-embedding-3-large", "global", "embeddings", "Sweden Central", 0.14),
    Deployment("gpt-4.1-batch", "gpt-4.1-2025-04-14", "batch", "chat", "Sweden Central", 0.06),
    Deployment("gpt-4.1-ptu", "gpt-4.1-2025-04-14", "provisioned", "chat", "Sweden Central", 0.10),
    Deployment("phi-4-mini", "Phi-4-mini-instruct", "regional", "chat", "Sweden Central", 0.02, listed=False),
)

PTU = {"deployment": "gpt-4.1-ptu", "ptu_count": 50, "hourly_rate": "1.00"}

SHARED = Team("platform", "sub-platform-shared", "Shared AI gateway", "ai-shared", "CC-0001", "gateway", 0.0)
"""A shared subscription owned by the platform team: its callers may name marketing or finance in `x-team`."""
SHARED_TEAMS = ("marketing", "finance")
SANDBOX = Team("sandbox", "sub-sandbox", "Hackathon sandbox", "ai-standard", "", "hackathon", 0.0)
"""A subscription nobody put in the teams map: its usage is costed but unmapped."""


@dataclass(frozen=True)
class Truth:
    """What a call really was, independent of the pipeline."""

    request_id: str
    day: date
    team: str | None
    """The team the call must be billed to (decided by its subscription, as the teams map says); None = unmapped."""
    attribution: str
    """How: mapped, header, header_rejected or unmapped."""
    subscription_id: str | None
    deployment: str
    deployment_type: str
    status: int
    stream: bool
    prompt_tokens: int | None
    cached_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    captured: bool

    @property
    def reported(self) -> bool:
        return self.prompt_tokens is not None


@dataclass(frozen=True)
class SyntheticCall:
    exchange: Exchange
    truth: Truth
    capture: bool
    """Run with body capture on (a debugging window on a few calls)."""


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _usage_chat(p: int, cached: int, c: int, reasoning: int) -> dict:
    return {
        "prompt_tokens": p,
        "completion_tokens": c,
        "total_tokens": p + c,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _sse(events: list[object]) -> bytes:
    lines = [f"data: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events]
    return ("".join(lines) + "data: [DONE]\n\n").encode("utf-8")


def _chat_stream_body(model: str, rid: str, created: int, usage: dict, words: list[str]) -> bytes:
    filter_results = {
        "hate": {"filtered": False, "severity": "safe"},
        "self_harm": {"filtered": False, "severity": "safe"},
        "sexual": {"filtered": False, "severity": "safe"},
        "violence": {"filtered": False, "severity": "safe"},
    }
    events: list[object] = [
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filter_results}],
        }
    ]
    for i, word in enumerate(words):
        delta = {"content": word} | ({"role": "assistant"} if i == 0 else {})
        events.append(
            {
                "choices": [{"delta": delta, "finish_reason": None, "index": 0, "content_filter_results": {}}],
                "created": created,
                "id": rid,
                "model": model,
                "object": "chat.completion.chunk",
                "system_fingerprint": "fp_3ac4c8e6a7",
                "usage": None,
            }
        )
    events.append(
        {
            "choices": [],
            "created": created,
            "id": rid,
            "model": model,
            "object": "chat.completion.chunk",
            "system_fingerprint": "fp_3ac4c8e6a7",
            "usage": usage,
        }
    )
    return _sse(events)


class TrafficGenerator:
    """A month of calls for the demo teams, reproducible from a seed."""

    def __init__(self, month: date, calls: int, *, seed: int = 20261127, captured_calls: int = 4) -> None:
        self.month = month.replace(day=1)
        self.calls = calls
        self.rng = random.Random(seed)
        self.captured_calls = captured_calls

    def _days(self) -> int:
        following = (self.month.replace(day=28) + timedelta(days=4)).replace(day=1)
        return (following - self.month).days

    def __iter__(self) -> Iterator[SyntheticCall]:
        rng = self.rng
        days = self._days()
        start = datetime(self.month.year, self.month.month, 1, tzinfo=UTC)
        capture_at = set(rng.sample(range(self.calls), min(self.captured_calls, self.calls)))
        moments = sorted(start + timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(self.calls))
        for index, moment in enumerate(moments):
            team = rng.choices(TEAMS, weights=[t.weight for t in TEAMS])[0]
            deployment = rng.choices(DEPLOYMENTS, weights=[d.weight for d in DEPLOYMENTS])[0]
            yield self._call(moment, team, deployment, capture=index in capture_at)

    # -- one call ------------------------------------------------------------------------------------------
    def _call(self, moment: datetime, team: Team, deployment: Deployment, *, capture: bool) -> SyntheticCall:
        rng = self.rng
        request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        anonymous_team = rng.random() < 0.03  # a client that forgot its x-team header
        header_team = team.name
        subscriber, billed, attribution = team, team.name, "mapped"
        route = rng.random()
        if team.name in SHARED_TEAMS and route < 0.5:
            # Through the shared gateway subscription: the header chooses among its listed teams.
            subscriber, billed, attribution = SHARED, team.name, "header"
            if anonymous_team:
                billed, attribution = SHARED.name, "mapped"  # no header: the subscription's own team
            elif route < 0.04:
                header_team, billed, attribution = "research", SHARED.name, "header_rejected"  # not listed
        elif route > 0.98:
            subscriber, billed, attribution = SANDBOX, None, "unmapped"
        headers = {
            "content-type": ["application/json"],
            "api-key": ["sk-" + uuid.UUID(int=rng.getrandbits(128)).hex],
            "authorization": ["Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.synthetic"],
            "x-cost-center": [team.cost_center],
            "x-project": [team.project],
            "user-agent": ["AzureOpenAI/Python 1.82.0"],
        }
        if not anonymous_team:
            headers["x-team"] = [header_team]
        stream = deployment.api == "chat" and deployment.deployment_type != "batch" and rng.random() < 0.35
        roll = rng.random()
        status = 200
        if roll < 0.04:
            status = 429
        elif roll < 0.05:
            status = 400
        elif roll < 0.055:
            status = 500
        prompt = int(rng.lognormvariate(6.3, 1.0)) + 12
        if capture:
            prompt = 60_000 + rng.randint(0, 20_000)
        cached = (prompt // 128) * 128 if rng.random() < 0.3 and prompt >= 1024 else 0
        completion = 0 if deployment.api == "embeddings" else int(rng.lognormvariate(5.0, 0.9)) + 1
        reasoning = int(completion * rng.uniform(0.3, 0.8)) if deployment.reasoning else 0
        if deployment.reasoning:
            completion += reasoning
        url, op_id, body = self._request(deployment, stream, prompt, capture)
        request = HttpRequest(
            method="POST",
            url=url,
            headers=headers,
            body=body,
            ip=f"198.51.100.{rng.randint(1, 254)}",
            matched={"deployment-id": deployment.name} if "/deployments/" in url else {},
        )
        context = CallContext(
            request_id=request_id,
            timestamp=moment,
            elapsed_ms=round(rng.uniform(120, 9000), 1),
            api=Party("azure-openai", "Azure OpenAI"),
            operation=Party(op_id, op_id),
            product=Party(subscriber.product_id, subscriber.product_id),
            subscription=Subscription(subscriber.subscription_id, subscriber.subscription_name, uuid.uuid4().hex),
            user=Party(f"{team.name}-svc"),
            service_name="contoso-apim",
            region="Sweden Central",
            gateway_id="managed",
        )
        response = self._response(deployment, status, stream, prompt, cached, completion, reasoning)
        reported = status == 200
        truth = Truth(
            request_id=request_id,
            day=moment.date(),
            team=billed,
            attribution=attribution,
            subscription_id=subscriber.subscription_id,
            deployment=deployment.name,
            deployment_type=deployment.deployment_type,
            status=status,
            stream=stream,
            prompt_tokens=prompt if reported else None,
            cached_tokens=cached if reported and deployment.api != "embeddings" else None,
            completion_tokens=completion if reported and deployment.api != "embeddings" else None,
            reasoning_tokens=reasoning if reported and deployment.api != "embeddings" else None,
            captured=capture,
        )
        return SyntheticCall(Exchange(request=request, response=response, context=context), truth, capture)

    def _request(self, d: Deployment, stream: bool, prompt: int, capture: bool) -> tuple[str, str, bytes]:
        rng = self.rng
        text = "Summarise the quarterly figures for the board. " * max(1, prompt // 10)
        if capture:
            text = "Résumé des écarts budgétaires — ¿qué pasó? 数据分析 ✓ " * (prompt // 12)
        if d.api == "embeddings":
            url = f"{GATEWAY}/openai/deployments/{d.name}/embeddings?api-version={API_VERSION}"
            return url, "embeddings_create", _json({"input": [text[:2000]]})
        if d.api == "responses":
            url = f"{GATEWAY}/openai/v1/responses"
            return (
                url,
                "responses_create",
                _json({"model": d.name, "input": text[:4000], "reasoning": {"effort": rng.choice(["low", "medium"])}}),
            )
        body: dict = {
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": text if capture else text[:4000]},
            ],
            "max_tokens": 800,
            "temperature": 0.2,
        }
        if stream:
            body["stream"] = True
            if rng.random() < 0.5:
                body["stream_options"] = {"include_usage": True}  # the other half: the policy injects it
        url = f"{GATEWAY}/openai/deployments/{d.name}/chat/completions?api-version={API_VERSION}"
        return url, "ChatCompletions_Create", _json(body)

    def _response(
        self, d: Deployment, status: int, stream: bool, p: int, cached: int, c: int, reasoning: int
    ) -> HttpResponse:
        rng = self.rng
        base_headers = {
            "x-ms-region": [d.region],
            "apim-request-id": [str(uuid.uuid4())],
            "x-request-id": [str(uuid.uuid4())],
        }
        if status == 429:
            return HttpResponse(
                429,
                base_headers | {"content-type": ["application/json"], "retry-after": [str(rng.randint(1, 30))]},
                _json(
                    {
                        "error": {
                            "code": "429",
                            "message": "Requests to the ChatCompletions_Create "
                            "Operation under Azure OpenAI API version 2024-10-21 have exceeded token "
                            "rate limit of your current AIServices S0 pricing tier.",
                        }
                    }
                ),
            )
        if status == 400:
            return HttpResponse(
                400,
                base_headers | {"content-type": ["application/json"]},
                _json(
                    {
                        "error": {
                            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                            "management policy.",
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
                ),
            )
        if status == 500:
            return HttpResponse(
                500,
                base_headers | {"content-type": ["application/json"]},
                _json(
                    {
                        "error": {
                            "code": "InternalServerError",
                            "message": "The server had an error processing your request.",
                        }
                    }
                ),
            )
        created = 1_790_000_000 + rng.randint(0, 10_000_000)
        if d.api == "embeddings":
            vector = [round(rng.uniform(-0.1, 0.1), 6) for _ in range(16)]
            return HttpResponse(
                200,
                base_headers | {"content-type": ["application/json"]},
                _json(
                    {
                        "object": "list",
                        "data": [{"object": "embedding", "index": 0, "embedding": vector}],
                        "model": d.model,
                        "usage": {"prompt_tokens": p, "total_tokens": p},
                    }
                ),
            )
        if d.api == "responses":
            return HttpResponse(
                200,
                base_headers | {"content-type": ["application/json"]},
                _json(
                    {
                        "id": f"resp_{uuid.uuid4().hex}",
                        "object": "response",
                        "created_at": created,
                        "status": "completed",
                        "model": d.model,
                        "output": [
                            {"type": "reasoning", "id": f"rs_{uuid.uuid4().hex[:12]}", "summary": []},
                            {
                                "type": "message",
                                "id": f"msg_{uuid.uuid4().hex[:12]}",
                                "role": "assistant",
                                "content": [{"type": "output_text", "text": "Forecast attached.", "annotations": []}],
                            },
                        ],
                        "usage": {
                            "input_tokens": p,
                            "input_tokens_details": {"cached_tokens": cached},
                            "output_tokens": c,
                            "output_tokens_details": {"reasoning_tokens": reasoning},
                            "total_tokens": p + c,
                        },
                    }
                ),
            )
        rid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        usage = _usage_chat(p, cached, c, reasoning)
        if stream:
            words = ["The", " figures", " are", " attached", "."]
            return HttpResponse(
                200,
                base_headers | {"content-type": ["text/event-stream; charset=utf-8"]},
                _chat_stream_body(d.model, rid, created, usage, words),
            )
        return HttpResponse(
            200,
            base_headers | {"content-type": ["application/json"]},
            _json(
                {
                    "id": rid,
                    "object": "chat.completion",
                    "created": created,
                    "model": d.model,
                    "system_fingerprint": "fp_3ac4c8e6a7",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "The figures are attached."},
                        }
                    ],
                    "usage": usage,
                }
            ),
        )


def deployments_csv() -> str:
    """The deployments config the demo's aggregator uses (only the listed deployments; phi-4-mini is not)."""
    rows = ["deployment,deployment_type,region"]
    rows += [f"{d.name},{d.deployment_type}," for d in DEPLOYMENTS if d.listed]
    return "\n".join(rows) + "\n"


def teams_csv(month: date) -> str:
    """The attribution map the demo's aggregator uses: one subscription per team, the shared gateway subscription
    (platform's, callers may name marketing or finance), and no row for the sandbox subscription."""
    rows = ["subscription_id,product_id,team,cost_center,owner,shared_teams,effective_from,effective_to"]
    start = month.replace(day=1).isoformat()
    for t in (*TEAMS, SHARED):
        shared = ";".join(SHARED_TEAMS) if t is SHARED else ""
        rows.append(f"{t.subscription_id},,{t.name},{t.cost_center},{t.name}-lead@contoso.example,{shared},{start},")
    return "\n".join(rows) + "\n"


def ptu_config(month: date) -> dict:
    return {
        "provisioned": [
            {
                **PTU,
                "currency": "USD",
                "effective_from": month.replace(day=1).isoformat(),
                "effective_to": None,
                "note": "demo: 50 PTU at a list rate of 1 USD per PTU-hour",
            }
        ]
    }
