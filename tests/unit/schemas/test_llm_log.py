"""The LLM-log decoder: every Azure Monitor batch ends as rows, skipped probes, other categories or rejects."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.llm_log import LLM_LOG_SCHEMA, decode_batch

GATEWAY_ID = "5D4F3B2A-1C0E-4F8D-9A7B-6C5D4E3F2A1B"


def record(**overrides) -> dict:
    properties = {
        "CorrelationId": GATEWAY_ID,
        "RequestId": "chatcmpl-AbC123",
        "DeploymentName": "gpt-4o",
        "ModelName": "gpt-4o-2024-11-20",
        "OperationName": "ChatCompletions_Create",
        "ApiVersion": "2025-01-01-preview",
        "PromptTokens": 1200,
        "CompletionTokens": 345,
        "TotalTokens": 1545,
        "IsStreamCompletion": True,
        "SequenceNumber": 0,
        "Region": "Sweden Central",
        "TimeGenerated": "2026-11-10T09:30:12.1234567Z",
    }
    properties.update(overrides.pop("properties", {}))
    return {
        "time": "2026-11-10T09:30:12.1234567Z",
        "resourceId": "/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM",
        "category": "GatewayLlmLogs",
        "operationName": "Microsoft.ApiManagement/GatewayLlmLogs",
        "properties": properties,
    } | overrides


def body(*records: dict) -> bytes:
    return json.dumps({"records": list(records)}).encode()


def test_a_record_becomes_a_row_keyed_by_the_gateway_request_id():
    batch = decode_batch(body(record()))
    assert batch.rejected == [] and batch.probes == 0
    (row,) = batch.rows
    assert row["record_id"] == GATEWAY_ID.lower()  # as the policy writes context.RequestId
    assert row["time_generated"] == datetime(2026, 11, 10, 9, 30, 12, 123456, tzinfo=UTC)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 345, 1545)
    assert row["is_stream"] is True and row["model"] == "gpt-4o-2024-11-20" and row["cached_tokens"] is None
    lineage = {
        "eh_partition": "0",
        "eh_sequence_number": 1,
        "eh_offset": "0",
        "eh_enqueued_time": row["time_generated"],
    }
    pa.Table.from_pylist([row | lineage], schema=LLM_LOG_SCHEMA)  # the row fits the lake table


def test_camel_case_and_pascal_case_are_the_same_record():
    camel = {key[0].lower() + key[1:]: value for key, value in record()["properties"].items()}
    pascal = decode_batch(body(record())).rows
    assert (
        decode_batch(
            json.dumps(
                {"Records": [{"Category": "GatewayLlmLogs", "Time": "2026-11-10T09:30:12Z", "properties": camel}]}
            ).encode()
        ).rows[0]["prompt_tokens"]
        == 1200
    )
    assert pascal[0]["record_id"] == decode_batch(body(record(properties=camel))).rows[0]["record_id"]


def test_probes_and_other_categories_are_counted_not_stored():
    batch = decode_batch(body(record(properties={"RequestId": ""}), record(category="GatewayLogs"), record()))
    assert (batch.probes, batch.other_categories, len(batch.rows), batch.rejected) == (1, 1, 1, [])


def test_bad_records_are_rejected_one_by_one_with_a_reason():
    batch = decode_batch(
        body(
            record(properties={"CorrelationId": "not-a-guid"}),
            record(properties={"PromptTokens": -1}),
            record(properties={"PromptTokens": 10, "promptCachedTokens": 11}),
            record(properties={"TimeGenerated": "yesterday"}, time="yesterday"),
            record(properties={"IsStreamCompletion": "maybe"}),
            "not an object",
            record(),
        )
    )
    assert len(batch.rows) == 1
    assert [r.reason for r in batch.rejected] == ["llm_log_invalid"] * 6
    assert "records[0]: CorrelationId is not a GUID" in batch.rejected[0].detail


def test_a_batch_that_is_not_a_resource_log_document_is_one_reject():
    for raw in (b"\xff\xfe", b"[]", b'{"value": []}', b"[" * 100_000):
        batch = decode_batch(raw)
        assert batch.rows == [] and [r.reason for r in batch.rejected] == ["llm_log_not_json"]


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"category": st.sampled_from(["GatewayLlmLogs", "gatewayllmlogs", "GatewayLogs"]), "properties": JSONISH},
            optional={"time": st.text(max_size=40)},
        ),
        max_size=5,
    )
)
def test_any_batch_is_fully_accounted_for(records):
    batch = decode_batch(json.dumps({"records": records}).encode())
    assert len(batch.rows) + len(batch.rejected) + batch.probes + batch.other_categories == len(records)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_never_raise(raw):
    batch = decode_batch(raw)
    assert batch.rows or batch.rejected or batch.probes or batch.other_categories or raw.strip().startswith(b"{")


def test_guid_spellings_normalise_to_the_policys_form():
    plain = str(uuid.UUID(GATEWAY_ID))
    for spelling in (GATEWAY_ID, "{" + GATEWAY_ID + "}", GATEWAY_ID.lower(), "urn:uuid:" + GATEWAY_ID):
        assert decode_batch(body(record(properties={"CorrelationId": spelling}))).rows[0]["record_id"] == plain
