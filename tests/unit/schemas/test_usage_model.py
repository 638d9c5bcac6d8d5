"""What a malformed usage record gets: a validation error naming the field, and why."""

from __future__ import annotations

from datetime import UTC

import pytest
from pydantic import ValidationError

from schemas.usage import UsageRecord

VALID = {
    "record_id": "6f1c2c1e-8d1f-4a3b-9a57-0c2a0f7d9b11",
    "event_time": "2026-11-27T11:00:00+01:00",
    "status_code": 200,
    "operation": "chat.completions",
    "usage_source": "reported",
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "cached_tokens": 100,
    "reasoning_tokens": 10,
    "tags": {"team": "search"},
}


def errors_of(**changes):
    with pytest.raises(ValidationError) as info:
        UsageRecord.model_validate(VALID | changes)
    return {".".join(map(str, e["loc"])) or "record": e["msg"] for e in info.value.errors()}


def test_a_valid_record_is_normalised_to_utc():
    record = UsageRecord.model_validate(VALID)
    assert record.event_time.tzinfo == UTC and record.event_time.hour == 10
    assert record.schema_version == 1


def test_unknown_members_are_ignored_within_version_1():
    assert UsageRecord.model_validate(VALID | {"gateway_build": "x"}).record_id == VALID["record_id"]


@pytest.mark.parametrize(
    ("changes", "field", "phrase"),
    [
        ({"status_code": 42}, "status_code", "greater than or equal to 100"),
        ({"operation": "chat"}, "operation", "chat.completions"),
        ({"event_time": "2026-11-27T10:00:00"}, "event_time", "timezone"),
        ({"prompt_tokens": -1}, "prompt_tokens", "greater than or equal to 0"),
        ({"prompt_tokens": "many"}, "prompt_tokens", "valid integer"),
        ({"record_id": "has space"}, "record_id", "pattern"),
        ({"usage_source": "guessed"}, "usage_source", "reported"),
        ({"tags": {"team": "x" * 300}}, "tags", "longer than 256"),
        ({"schema_version": 2}, "schema_version", "1"),
    ],
)
def test_a_bad_field_is_named_with_the_reason(changes, field, phrase):
    errors = errors_of(**changes)
    assert field in errors, errors
    assert phrase in errors[field]


def test_a_missing_required_field_is_named():
    record = dict(VALID)
    del record["status_code"]
    with pytest.raises(ValidationError) as info:
        UsageRecord.model_validate(record)
    assert [e["loc"] for e in info.value.errors()] == [("status_code",)]
    assert info.value.errors()[0]["type"] == "missing"


def test_token_counts_are_never_invented_for_sources_without_usage():
    errors = errors_of(usage_source="stream_not_read")
    assert "record" in errors and "prompt_tokens" in errors["record"]
    ok = {k: v for k, v in VALID.items() if not k.endswith("_tokens")} | {"usage_source": "error_response"}
    assert UsageRecord.model_validate(ok).prompt_tokens is None


def test_reported_usage_needs_numbers_and_subsets_must_fit():
    bare = {k: v for k, v in VALID.items() if not k.endswith("_tokens")}
    assert "needs at least one token count" in errors_of(**{k: None for k in VALID if k.endswith("_tokens")})["record"]
    assert "cached_tokens exceeds" in errors_of(cached_tokens=121)["record"]
    assert "reasoning_tokens exceeds" in errors_of(reasoning_tokens=31)["record"]
    assert UsageRecord.model_validate(bare | {"usage_source": "reported", "total_tokens": 5}).total_tokens == 5
