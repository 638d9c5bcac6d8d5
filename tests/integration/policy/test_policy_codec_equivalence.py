"""One contract, two implementations: the C# policy's envelopes and the Python reference encoder agree."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producer_policy.decode import decode_messages
from producer_policy.harness.exchange import HttpResponse
from schemas.codec import encode
from tests.support.exchanges import CHAT_BODY, CHAT_COMPLETION, chat_url, exchange, json_response, request
from tests.support.profiles import examples

pytestmark = pytest.mark.integration


def assert_python_encodes_the_same(messages):
    """Group the C# messages by record, re-encode each record with the Python codec, compare bytes."""
    decoded = decode_messages(messages)
    assert decoded.dead_letters == []
    by_kind: dict[str, list[bytes]] = {}
    for message in messages:
        by_kind.setdefault(json.loads(message.body)["kind"], []).append(message.body.encode("utf-8"))
    assert len(decoded.completed) == len(by_kind)
    for record in decoded.completed:
        # The producer's payload before truncation is not in the envelope; rebuild it only when not truncated,
        # otherwise pad with the first bytes' length (only the length enters the header).
        payload = (
            record.payload
            if not record.truncated
            else record.payload + b"\0" * (record.original_bytes - len(record.payload))
        )
        ours = encode(
            record.record_id, record.kind, payload, emitted_at=record.emitted_at, content_type=record.content_type
        )
        assert ours == by_kind[record.kind.value]


def test_usage_and_bodies_byte_identical(prepare, policy_harness):
    ex = exchange(request(chat_url(), CHAT_BODY), json_response(200, CHAT_COMPLETION))
    result = policy_harness.run(prepare(capture="both"), ex)
    assert_python_encodes_the_same(result.messages)


def test_truncated_multi_chunk_body_byte_identical(prepare, policy_harness):
    raw = ("ß→😀" * 400_000).encode()
    ex = exchange(request(chat_url(), CHAT_BODY), HttpResponse(200, {"Content-Type": ['text/plain; "q"\\x']}, raw))
    result = policy_harness.run(prepare(capture="response"), ex)
    assert_python_encodes_the_same(result.messages)


@settings(max_examples=examples(60), deadline=None)
@given(body=st.text(max_size=3000), content_type=st.text(max_size=200))
def test_any_text_body_byte_identical(prepare, policy_harness, body, content_type):
    ex = exchange(
        request(chat_url(), CHAT_BODY),
        HttpResponse(
            200,
            {"Content-Type": [content_type.replace("\r", "").replace("\n", "")]},
            body.encode("utf-8", "surrogatepass"),
        ),
    )
    result = policy_harness.run(prepare(capture="response"), ex)
    assert_python_encodes_the_same(result.messages)
