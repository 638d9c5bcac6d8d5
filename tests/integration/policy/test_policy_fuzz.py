"""Fuzz: whatever the backend, client or gateway throws at the policy, no exception escapes an expression."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producer_policy.harness.exchange import (
    CallContext,
    Exchange,
    GatewayError,
    HttpRequest,
    HttpResponse,
    Party,
    Subscription,
)
from tests.support.policy_checks import check_invariants
from tests.support.profiles import examples

pytestmark = pytest.mark.integration

CONFIGS = [
    {},
    {"stream_mode": "passthrough", "capture": "both"},
    {"capture": "response", "client_ip": "plain", "tag_headers": "x-team,X-Weird Header,,x-"},
    {"capture": "request", "client_ip": "none", "include_usage": "false", "stream_mode": "unexpected"},
]

names = st.one_of(st.none(), st.text(max_size=300))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
usage_like = st.fixed_dictionaries(
    {},
    optional={
        "prompt_tokens": json_values,
        "completion_tokens": json_values,
        "total_tokens": st.integers(min_value=-5, max_value=2**64),
        "input_tokens": st.integers(min_value=0, max_value=10**6),
        "output_tokens": json_values,
        "prompt_tokens_details": st.one_of(json_values, st.fixed_dictionaries({"cached_tokens": json_values})),
        "completion_tokens_details": st.one_of(json_values, st.fixed_dictionaries({"reasoning_tokens": json_values})),
    },
)
api_like = st.fixed_dictionaries(
    {},
    optional={
        "model": json_values,
        "usage": st.one_of(usage_like, json_values),
        "error": st.one_of(json_values, st.fixed_dictionaries({"code": json_values})),
        "response": st.fixed_dictionaries({}, optional={"usage": usage_like, "model": json_values}),
        "type": st.sampled_from(["response.completed", "response.created", "x"]),
        "choices": json_values,
    },
)


@st.composite
def sse_bodies(draw: st.DrawFn) -> bytes:
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            parts.append("data: " + json.dumps(draw(api_like)) + "\n\n")
        elif kind == 1:
            parts.append("event: " + draw(st.text(max_size=20)).replace("\n", "") + "\n")
        elif kind == 2:
            parts.append("data: " + draw(st.text(max_size=60)) + "\r\n\r\n")
        else:
            parts.append("data: [DONE]\n\n")
    return "".join(parts).encode("utf-8", "surrogatepass")


@st.composite
def bodies(draw: st.DrawFn) -> bytes | None:
    choice = draw(st.integers(0, 40))
    if choice == 0:
        size = draw(st.integers(1_000_000, 3_000_000))
        return (b'{"usage":{"total_tokens":5},"x":"' + "é".encode() * (size // 2) + b'"}')[: size + 40]
    if choice < 8:
        return draw(st.binary(max_size=2000))
    if choice < 18:
        return json.dumps(draw(api_like)).encode()
    if choice < 24:
        return json.dumps(draw(json_values)).encode()
    if choice < 32:
        return draw(sse_bodies())
    if choice < 36:
        text = json.dumps(draw(api_like))
        return text[: draw(st.integers(0, len(text)))].encode()
    if choice < 38:
        return None
    return draw(st.text(max_size=500)).encode("utf-8", "surrogatepass")


header_values = st.lists(
    st.text(max_size=80).map(lambda s: s.replace("\r", "").replace("\n", "")), min_size=1, max_size=3
)
header_names = st.sampled_from(
    [
        "Content-Type",
        "content-type",
        "CONTENT-ENCODING",
        "x-ms-region",
        "x-team",
        "x-project",
        "retry-after",
        "X-Weird Header",
        "x-",
    ]
)
content_types = st.sampled_from(
    [
        "application/json",
        "text/event-stream",
        "text/html",
        "image/png",
        "application/octet-stream",
        "",
        "APPLICATION/JSON; charset=utf-8",
        'a"\\\x01b',
    ]
)


@st.composite
def exchanges(draw: st.DrawFn) -> tuple[dict[str, str], Exchange]:
    path = draw(
        st.sampled_from(
            [
                "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
                "/openai/deployments/emb/embeddings?api-version=2023-05-15",
                "/openai/v1/responses",
                "/openai/v1/chat/completions?api-version=preview",
                "/openai/deployments/%E2%9C%93/completions?api-version=2025-01-01-preview&api-version=x",
                "/openai/images/generations:submit",
                "/",
            ]
        )
    )
    req_headers = draw(st.dictionaries(header_names, header_values, max_size=4))
    req_headers.setdefault("Content-Type", [draw(content_types)])
    req_body = draw(
        st.one_of(
            bodies(),
            st.builds(
                lambda d: json.dumps(d).encode(), st.fixed_dictionaries({"stream": json_values, "model": json_values})
            ),
        )
    )
    resp_headers = draw(st.dictionaries(header_names, header_values, max_size=4))
    resp_headers["Content-Type"] = [draw(content_types)]
    response = HttpResponse(
        status=draw(st.sampled_from([200, 200, 200, 201, 204, 400, 401, 404, 408, 429, 500, 502, 503, 599])),
        headers=resp_headers,
        body=draw(bodies()) or b"",
    )
    ctx = CallContext(
        request_id=str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        timestamp_kind=draw(st.sampled_from(["utc", "unspecified"])),
        elapsed_ms=draw(st.floats(min_value=0, max_value=1e9)),
        api=draw(st.one_of(st.none(), st.builds(Party, names, names))),
        operation=draw(st.one_of(st.none(), st.builds(Party, names, names))),
        product=draw(st.one_of(st.none(), st.builds(Party, names, names))),
        subscription=draw(st.one_of(st.none(), st.builds(Subscription, names, names, st.just("k3y-never-logged")))),
        user=draw(st.one_of(st.none(), st.builds(Party, names))),
        service_name=draw(names),
        region=draw(names),
        gateway_id=draw(names),
    )
    error = draw(
        st.one_of(
            st.none(),
            st.builds(
                GatewayError,
                st.sampled_from(["inbound", "backend", "outbound"]),
                st.text(max_size=20),
                st.text(max_size=300),
                st.text(max_size=50),
                st.one_of(st.none(), st.sampled_from([401, 429, 500, 200])),
            ),
        )
    )
    request = HttpRequest(
        method=draw(st.sampled_from(["POST", "GET", "DELETE"])),
        url="https://gw.example" + path,
        headers=req_headers,
        body=req_body,
        ip=draw(st.one_of(st.none(), st.sampled_from(["203.0.113.9", "2001:db8::1", ""]))),
        matched=draw(st.dictionaries(st.just("deployment-id"), st.text(max_size=30), max_size=1)),
    )
    return draw(st.sampled_from(CONFIGS)), Exchange(
        request=request, response=response, context=ctx, gateway_error=error
    )


@settings(
    max_examples=examples(500), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(case=exchanges())
def test_no_exception_ever_escapes_an_expression(prepare, policy_harness, case):
    named, ex = case
    result = policy_harness.run(prepare(**named), ex)
    records = check_invariants(ex, result)
    assert "k3y-never-logged" not in "".join(m.body for m in result.messages)
    usage = records["usage"][0]
    if usage["usage_source"] not in ("reported", "stream_reported"):
        assert all(
            usage[f] is None
            for f in ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens")
        )
