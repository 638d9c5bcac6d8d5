"""What must hold for every exchange the policy logs (used by the policy matrix and its fuzz test)."""

from __future__ import annotations

from typing import Any

from producer_policy.decode import decode_messages
from producer_policy.harness.exchange import Exchange, RunResult
from schemas.limits import MAX_MESSAGE_BYTES
from tests.support.exchanges import SUBSCRIPTION_KEY


def check_invariants(ex: Exchange, result: RunResult) -> dict[str, list[dict[str, Any]]]:
    """What must hold for every exchange; returns the decoded records by kind."""
    assert result.errors == []
    assert result.messages, "the policy emitted nothing"
    for message in result.messages:
        assert len(message.body.encode("utf-8")) <= MAX_MESSAGE_BYTES
        assert message.partition_key == ex.context.request_id
        assert message.logger_id == "chargeback-eventhub-logger"
    assert not result.request_consumed
    assert not result.response_consumed
    decoded = decode_messages(result.messages)
    assert decoded.dead_letters == []
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for rec in decoded.records:
        by_kind.setdefault(rec.kind, []).append(rec.record)
    assert len(by_kind["usage"]) == 1
    # Never the subscription key, not even inside a captured body's base64.
    everything = "".join(m.body for m in result.messages)
    payloads = b"".join(c.payload for c in decoded.completed)
    assert SUBSCRIPTION_KEY not in everything
    assert SUBSCRIPTION_KEY.encode() not in payloads
    return by_kind
