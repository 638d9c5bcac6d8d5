"""The shipped policy, executed under Mono, for realistic exchanges: exact usage record for each."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
from typing import Any

import pytest

from producer_policy.harness.exchange import CallContext, Exchange, GatewayError, HttpResponse, RunResult
from schemas.limits import DEFAULT_CHUNK_BYTES, DEFAULT_MAX_CHUNKS
from tests.support.exchanges import (
    CHAT_BODY,
    CHAT_COMPLETION,
    CLIENT_IP,
    CONTENT_FILTERED,
    EMBEDDINGS,
    JSON,
    RATE_LIMITED,
    RESPONSES,
    SSE,
    chat_url,
    exchange,
    expected,
    json_response,
    request,
    streamed_chat,
    streamed_responses,
)
from tests.support.policy_checks import check_invariants

pytestmark = pytest.mark.integration


@pytest.fixture
def go(prepare, policy_harness):
    def _go(ex: Exchange, **named: str) -> tuple[RunResult, dict[str, list[dict[str, Any]]]]:
        result = policy_harness.run(prepare(**named), ex)
        return result, check_invariants(ex, result)

    return _go


def test_chat_completion_with_cached_and_reasoning_tokens(go):
    ex = exchange(request(chat_url(), CHAT_BODY), json_response(200, CHAT_COMPLETION))
    _, records = go(ex)
    assert records["usage"][0] == expected(
        ex.context,
        model="gpt-4o-2024-11-20",
        prompt_tokens=1520,
        completion_tokens=310,
        total_tokens=1830,
        cached_tokens=1024,
        reasoning_tokens=192,
    )
    assert "request_body" not in records and "response_body" not in records


def test_embeddings(go):
    ex = exchange(
        request(chat_url("text-embedding-3-large", "2024-06-01", "embeddings"), {"input": "hello"}),
        json_response(200, EMBEDDINGS),
    )
    _, records = go(ex)
    assert records["usage"][0] == expected(
        ex.context,
        operation="embeddings",
        api_version="2024-06-01",
        deployment="text-embedding-3-large",
        model="text-embedding-3-large",
        prompt_tokens=8,
        total_tokens=8,
    )


def test_responses_api_json(go):
    ex = exchange(request("/openai/v1/responses", {"model": "o4-mini", "input": "Hi"}), json_response(200, RESPONSES))
    _, records = go(ex)
    assert records["usage"][0] == expected(
        ex.context,
        operation="responses",
        api_version=None,
        deployment="o4-mini",
        model="o4-mini-2025-04-16",
        prompt_tokens=328,
        completion_tokens=1052,
        total_tokens=1380,
        cached_tokens=128,
        reasoning_tokens=896,
    )


def test_streamed_chat_buffered_with_include_usage_and_azure_leading_chunk(go):
    body = {**CHAT_BODY, "stream": True}
    ex = exchange(
        request(chat_url(), body), HttpResponse(200, {**SSE, "x-ms-region": ["Sweden Central"]}, streamed_chat(True))
    )
    result, records = go(ex)
    assert records["usage"][0] == expected(
        ex.context,
        stream=True,
        model="gpt-4o-2024-11-20",
        prompt_tokens=42,
        completion_tokens=17,
        total_tokens=59,
        cached_tokens=0,
        reasoning_tokens=0,
        usage_source="stream_reported",
    )
    forwarded = json.loads(result.forwarded_request_body or b"")
    assert forwarded["stream_options"] == {"include_usage": True}
    assert {k: v for k, v in forwarded.items() if k != "stream_options"} == body


def test_streamed_chat_without_usage_event(go):
    body = {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": False}}
    ex = exchange(
        request(chat_url(), body), HttpResponse(200, {**SSE, "x-ms-region": ["Sweden Central"]}, streamed_chat(False))
    )
    result, records = go(ex)
    assert records["usage"][0] == expected(
        ex.context, stream=True, model="gpt-4o-2024-11-20", usage_source="stream_no_usage"
    )
    assert json.loads(result.forwarded_request_body or b"") == body, "a request that set include_usage is left alone"


def test_streamed_responses_api(go):
    ex = exchange(
        request("/openai/v1/responses", {"model": "o4-mini", "input": "Hi", "stream": True}),
        HttpResponse(200, {**SSE, "x-ms-region": ["Sweden Central"]}, streamed_responses()),
    )
    result, records = go(ex)
    assert records["usage"][0] == expected(
        ex.context,
        operation="responses",
        api_version=None,
        deployment="o4-mini",
        stream=True,
        model="o4-mini-2025-04-16",
        prompt_tokens=328,
        completion_tokens=1052,
        total_tokens=1380,
        cached_tokens=128,
        reasoning_tokens=896,
        usage_source="stream_reported",
    )
    assert b"stream_options" not in (result.forwarded_request_body or b""), "only chat completions get include_usage"


def test_streamed_chat_passthrough_never_reads_the_body(go, prepare, policy_harness):
    ex = exchange(
        request(chat_url(), {**CHAT_BODY, "stream": True}),
        HttpResponse(200, {**SSE, "x-ms-region": ["Sweden Central"]}, streamed_chat(True)),
    )
    _, records = go(ex, stream_mode="passthrough", capture="both")
    assert records["usage"][0] == expected(ex.context, stream=True, usage_source="stream_not_read")
    assert "response_body" not in records, "passthrough never captures a stream"
    assert len(records["request_body"]) == 1
    raw = policy_harness.process.request(
        {"op": "run", "key": prepare(stream_mode="passthrough").key, "scenario": ex.to_json()}
    )
    assert raw["response_reads"] == 0


def test_include_usage_is_not_injected_for_older_api_versions_or_when_disabled(go):
    body = {**CHAT_BODY, "stream": True}
    old = exchange(request(chat_url(api_version="2024-06-01"), body), HttpResponse(200, SSE, streamed_chat(False)))
    result, _ = go(old)
    assert json.loads(result.forwarded_request_body or b"") == body
    new = exchange(request(chat_url(), body), HttpResponse(200, SSE, streamed_chat(False)))
    result, _ = go(new, include_usage="false")
    assert json.loads(result.forwarded_request_body or b"") == body


def test_rate_limited_429_with_retry_after(go):
    ex = exchange(
        request(chat_url(), CHAT_BODY),
        json_response(429, RATE_LIMITED, {"retry-after": ["6"], "x-ratelimit-remaining-tokens": ["0"]}),
    )
    _, records = go(ex)
    assert records["usage"][0] == expected(ex.context, status_code=429, usage_source="error_response", error_code="429")


def test_content_filter_400(go):
    ex = exchange(request(chat_url(), CHAT_BODY), json_response(400, CONTENT_FILTERED))
    _, records = go(ex)
    assert records["usage"][0] == expected(
        ex.context, status_code=400, usage_source="error_response", error_code="content_filter"
    )


def test_server_error_500_with_html_body(go):
    resp = HttpResponse(
        500, {"Content-Type": ["text/html"]}, b"<html><body><h1>500 Internal Server Error</h1></body></html>"
    )
    ex = exchange(request(chat_url(), CHAT_BODY), resp)
    _, records = go(ex)
    assert records["usage"][0] == expected(ex.context, status_code=500, region=None, usage_source="error_response")


def test_backend_unreachable_goes_through_on_error(go):
    ex = exchange(
        request(chat_url(), CHAT_BODY),
        None,
        gateway_error=GatewayError("backend", "forward-request", "BackendConnectionFailure", "connection refused"),
    )
    result, records = go(ex)
    assert result.sections[-1] == "on-error"
    assert records["usage"][0] == expected(
        ex.context,
        status_code=500,
        region=None,
        backend_id="contoso-apim.azure-api.net",
        usage_source="error_response",
        error_code="BackendConnectionFailure",
    )


def test_anonymous_call_still_logs(go):
    ctx = CallContext(subscription=None, product=None, user=None)
    ex = exchange(request(chat_url(), CHAT_BODY), json_response(200, CHAT_COMPLETION), ctx)
    _, records = go(ex)
    record = records["usage"][0]
    assert (record["subscription_id"], record["subscription_name"], record["product_id"], record["user_id"]) == (
        None,
        None,
        None,
        None,
    )
    assert record["usage_source"] == "reported" and record["total_tokens"] == 1830


@pytest.mark.parametrize(
    ("name", "response"),
    [
        ("empty", HttpResponse(200, JSON, b"")),
        ("truncated json", HttpResponse(200, JSON, json.dumps(CHAT_COMPLETION).encode()[:150])),
        ("invalid json", HttpResponse(200, JSON, b"{usage: 12, ")),
        ("html from a proxy", HttpResponse(200, {"Content-Type": ["text/html"]}, b"<html>Gateway login</html>")),
        ("binary as json", HttpResponse(200, JSON, bytes(range(256)) * 4)),
        ("binary image", HttpResponse(200, {"Content-Type": ["image/png"]}, b"\x89PNG\r\n\x1a\n" + bytes(200))),
        (
            "gzip-encoded",
            HttpResponse(
                200, {**JSON, "Content-Encoding": ["gzip"]}, gzip.compress(json.dumps(CHAT_COMPLETION).encode())
            ),
        ),
        ("json array", HttpResponse(200, JSON, b"[1, 2, 3]")),
    ],
)
def test_unreadable_bodies_have_null_tokens(go, name, response):
    ex = exchange(request(chat_url(), CHAT_BODY), response)
    _, records = go(ex)
    assert records["usage"][0] == expected(ex.context, region=None, usage_source="unreadable"), name


def test_json_without_usage_is_missing(go):
    body = {k: v for k, v in CHAT_COMPLETION.items() if k != "usage"}
    ex = exchange(request(chat_url(), CHAT_BODY), json_response(200, body))
    _, records = go(ex)
    assert records["usage"][0] == expected(ex.context, model="gpt-4o-2024-11-20", usage_source="missing")


def test_usage_with_non_integer_counts_is_not_invented(go):
    body = {**CHAT_COMPLETION, "usage": {"prompt_tokens": "12", "completion_tokens": 1.5, "total_tokens": None}}
    ex = exchange(request(chat_url(), CHAT_BODY), json_response(200, body))
    _, records = go(ex)
    assert records["usage"][0] == expected(ex.context, model="gpt-4o-2024-11-20", usage_source="missing")


def test_five_megabyte_non_ascii_response_with_capture(go):
    text = "Ünïcödé ✓ 漢字 🚀 " * 300_000
    completion = {**CHAT_COMPLETION, "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    raw = json.dumps(completion, ensure_ascii=False).encode()
    assert len(raw) > 5_000_000
    req_body = {"messages": [{"role": "user", "content": "Schreib ein Gedicht über Käse 🧀"}]}
    ex = exchange(
        request(chat_url(), req_body), HttpResponse(200, {"Content-Type": ["application/json; charset=utf-8"]}, raw)
    )
    result, records = go(ex, capture="both")
    assert records["usage"][0]["total_tokens"] == 1830
    response_body = records["response_body"][0]
    limit = DEFAULT_CHUNK_BYTES * DEFAULT_MAX_CHUNKS
    assert response_body["truncated"] is True
    assert response_body["original_bytes"] == len(raw)
    assert response_body["captured_bytes"] == limit
    assert response_body["content_type"] == "application/json; charset=utf-8"
    assert response_body["body"].encode() == raw[:limit].decode("utf-8", "ignore").encode()
    request_body = records["request_body"][0]
    assert json.loads(request_body["body"]) == req_body and request_body["truncated"] is False
    assert sum(1 for m in result.messages if '"kind":"response_body"' in m.body) == DEFAULT_MAX_CHUNKS


def test_capture_request_only_and_none(go):
    ex = exchange(request(chat_url(), CHAT_BODY), json_response(200, CHAT_COMPLETION))
    _, records = go(ex, capture="request")
    assert set(records) == {"usage", "request_body"}
    _, records = go(ex, capture="response")
    assert set(records) == {"usage", "response_body"}
    assert json.loads(records["response_body"][0]["body"]) == CHAT_COMPLETION


def test_client_ip_modes(go):
    ex = exchange(request(chat_url(), CHAT_BODY), json_response(200, CHAT_COMPLETION))
    _, records = go(ex, client_ip="plain")
    assert records["usage"][0]["client_ip"] == CLIENT_IP
    _, records = go(ex, client_ip="none")
    assert records["usage"][0]["client_ip"] is None


def test_v1_api_takes_the_deployment_from_the_body(go):
    ex = exchange(
        request("/openai/v1/chat/completions", {**CHAT_BODY, "model": "gpt-4o-mini"}),
        json_response(200, CHAT_COMPLETION),
    )
    _, records = go(ex)
    record = records["usage"][0]
    assert (record["deployment"], record["api_version"], record["operation"]) == (
        "gpt-4o-mini",
        None,
        "chat.completions",
    )


def test_tags_are_bounded_and_secret_headers_are_never_tags(go):
    headers = {
        "x-team": ["t" * 300],
        "x-api-key": ["sk-secret"],
        "Authorization": ["Bearer abc"],
        "x-project": ["apollo"],
    }
    ex = exchange(request(chat_url(), CHAT_BODY, headers), json_response(200, CHAT_COMPLETION))
    result, records = go(ex, tag_headers="x-team,x-api-key,Authorization,x-project,x-cost-center,,x-")
    assert records["usage"][0]["tags"] == {"team": "t" * 256, "project": "apollo", "cost-center": "cc-1234"}
    payload = b"".join(base64.b64decode(json.loads(m.body)["data"]) for m in result.messages)
    assert b"sk-secret" not in payload and b"Bearer abc" not in payload


def test_unspecified_timestamp_kind_still_has_an_offset(go):
    ctx = dataclasses.replace(CallContext(), timestamp_kind="unspecified")
    ex = exchange(request(chat_url(), CHAT_BODY), json_response(200, CHAT_COMPLETION), ctx)
    _, records = go(ex)
    assert records["usage"][0]["event_time"] == expected(ctx)["event_time"]
