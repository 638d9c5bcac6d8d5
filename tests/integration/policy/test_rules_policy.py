"""The policy's C# boundaries, one rule per test, run under Mono (issue 20: none of these had a test that could fail).

Each test states the rule; tests/mutation/handmade.py breaks the C# at that rule and checks that the test fails.
"""

from __future__ import annotations

import dataclasses

import pytest

from producer_policy.decode import decode_messages
from producer_policy.harness.exchange import CallContext, Subscription
from tests.integration.policy.exchanges import (
    CHAT_BODY,
    CHAT_COMPLETION,
    chat_url,
    exchange,
    json_response,
    request,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def usage_of(prepare, policy_harness):
    def _usage_of(ex, **named: str) -> dict:
        result = policy_harness.run(prepare(**named), ex)
        assert result.errors == []
        records = [r.record for r in decode_messages(result.messages).records if r.kind == "usage"]
        assert len(records) == 1
        return records[0]

    return _usage_of


@pytest.mark.parametrize(("status", "recorded"), [(100, 100), (599, 599), (600, 500), (99, 500)])
def test_status_codes_from_100_to_599_are_kept_and_anything_else_is_recorded_as_500(usage_of, status, recorded):
    """HTTP status codes are 100..599 inclusive; outside that range the record says 500 (the schema refuses it)."""
    record = usage_of(exchange(request(chat_url(), CHAT_BODY), json_response(status, CHAT_COMPLETION)))
    assert record["status_code"] == recorded


def test_at_most_32_tags_are_recorded_in_header_list_order(usage_of):
    """The tag-headers list is capped at 32 tags (the schema's limit): the 33rd configured header is not recorded."""
    names = [f"x-t{i:02d}" for i in range(40)]
    headers = {name: [f"v{i}"] for i, name in enumerate(names)}
    record = usage_of(
        exchange(request(chat_url(), CHAT_BODY, headers), json_response(200, CHAT_COMPLETION)),
        tag_headers=",".join(names),
    )
    assert record["tags"] == {f"t{i:02d}": f"v{i}" for i in range(32)}


def test_a_tag_name_is_cut_to_64_characters_and_a_value_to_256(usage_of):
    """Tag names are bounded at 64 characters (after dropping `x-`), values at 256: longer ones are truncated."""
    long_name = "x-" + "n" * 70
    record = usage_of(
        exchange(request(chat_url(), CHAT_BODY, {long_name: ["v" * 300]}), json_response(200, CHAT_COMPLETION)),
        tag_headers=long_name,
    )
    assert record["tags"] == {"n" * 64: "v" * 256}


def test_names_longer_than_256_characters_are_cut_to_256(usage_of):
    """Every free-text name in the record (deployment, subscription, ...) is bounded at 256 characters."""
    ctx = dataclasses.replace(CallContext(), subscription=Subscription("s" * 300, "N" * 257, "key-not-recorded"))
    record = usage_of(exchange(request(chat_url("d" * 300), CHAT_BODY), json_response(200, CHAT_COMPLETION), ctx))
    assert record["subscription_id"] == "s" * 256
    assert record["subscription_name"] == "N" * 256
    assert record["deployment"] == "d" * 256
    exact = dataclasses.replace(CallContext(), subscription=Subscription("s" * 256, "N", "key-not-recorded"))
    assert (
        usage_of(exchange(request(chat_url(), CHAT_BODY), json_response(200, CHAT_COMPLETION), exact))[
            "subscription_id"
        ]
        == "s" * 256
    )


def test_usage_with_only_detail_objects_is_missing_usage_not_reported_zero(usage_of):
    """A `usage` object holding only the *_details objects reports no counts: usage_source is `missing` and every
    token field, the detail counts included, is null (never a count without the total it belongs to)."""
    body = {
        **CHAT_COMPLETION,
        "usage": {"prompt_tokens_details": {"cached_tokens": 5}, "completion_tokens_details": {"reasoning_tokens": 3}},
    }
    record = usage_of(exchange(request(chat_url(), CHAT_BODY), json_response(200, body)))
    assert record["usage_source"] == "missing"
    assert [record[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")] == [None, None, None]
    assert (record["cached_tokens"], record["reasoning_tokens"]) == (None, None)


def test_usage_with_counts_keeps_its_detail_counts(usage_of):
    """With counts present the detail counts are copied, not dropped (the other side of the rule above)."""
    body = {
        **CHAT_COMPLETION,
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 4,
            "total_tokens": 14,
            "prompt_tokens_details": {"cached_tokens": 5},
            "completion_tokens_details": {"reasoning_tokens": 3},
        },
    }
    record = usage_of(exchange(request(chat_url(), CHAT_BODY), json_response(200, body)))
    assert record["usage_source"] == "reported"
    assert (record["cached_tokens"], record["reasoning_tokens"]) == (5, 3)
