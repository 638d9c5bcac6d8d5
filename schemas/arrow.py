"""Explicit Arrow schemas of the lake tables (never inferred).

Files of every table live under a Hive layout `<table>/event_date=YYYY-MM-DD/event_hour=HH/` (schemas/lake.py); the
partition keys are in the path only, not in the files. Every table carries the Event Hubs coordinates of the
data it came from (`eh_*`), so any row can be traced to, and replayed from, the stream.

`usage.tags_json` is derived, not received: the tags map as canonical JSON text (schemas/tags.py), the key the
roll-up groups by. Files written before it existed lack the column; readers derive it from `tags` then.
"""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")

LINEAGE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("eh_partition", pa.string(), nullable=False),
    pa.field("eh_sequence_number", pa.int64(), nullable=False),
    pa.field("eh_offset", pa.string(), nullable=False),
    pa.field("eh_enqueued_time", TIMESTAMP, nullable=False),
)
"""Where the record's first chunk was in the stream."""

USAGE_SCHEMA = pa.schema(
    [
        pa.field("schema_version", pa.int32(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("event_time", TIMESTAMP, nullable=False),
        pa.field("duration_ms", pa.int64()),
        pa.field("status_code", pa.int32(), nullable=False),
        pa.field("operation", pa.string(), nullable=False),
        pa.field("stream", pa.bool_(), nullable=False),
        pa.field("api_version", pa.string()),
        pa.field("deployment", pa.string()),
        pa.field("model", pa.string()),
        pa.field("region", pa.string()),
        pa.field("backend_id", pa.string()),
        pa.field("gateway_id", pa.string()),
        pa.field("service_name", pa.string()),
        pa.field("subscription_id", pa.string()),
        pa.field("subscription_name", pa.string()),
        pa.field("product_id", pa.string()),
        pa.field("api_id", pa.string()),
        pa.field("operation_id", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("client_ip", pa.string()),
        pa.field("tags", pa.map_(pa.string(), pa.string()), nullable=False),
        pa.field("tags_json", pa.string(), nullable=False),
        pa.field("prompt_tokens", pa.int64()),
        pa.field("completion_tokens", pa.int64()),
        pa.field("total_tokens", pa.int64()),
        pa.field("cached_tokens", pa.int64()),
        pa.field("reasoning_tokens", pa.int64()),
        pa.field("usage_source", pa.string(), nullable=False),
        pa.field("error_code", pa.string()),
        *LINEAGE_FIELDS,
    ],
    metadata={"table": "usage", "contract": "usage record v1"},
)

PAYLOADS_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("part", pa.string(), nullable=False),
        pa.field("event_time", TIMESTAMP, nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("body", pa.large_string(), nullable=False),
        pa.field("body_encoding", pa.string(), nullable=False),
        pa.field("truncated", pa.bool_(), nullable=False),
        pa.field("original_bytes", pa.int64(), nullable=False),
        pa.field("captured_bytes", pa.int64(), nullable=False),
        *LINEAGE_FIELDS,
    ],
    metadata={"table": "payloads"},
)

DEAD_LETTERS_SCHEMA = pa.schema(
    [
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("partition", pa.string(), nullable=False),
        pa.field("sequence_number", pa.int64(), nullable=False),
        pa.field("offset", pa.string(), nullable=False),
        pa.field("enqueued_time", TIMESTAMP, nullable=False),
        pa.field("record_id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("raw_body", pa.binary(), nullable=False),
        pa.field("raw_bytes", pa.int64(), nullable=False),
    ],
    metadata={"table": "dead_letters"},
)

LLM_LOG_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("time_generated", TIMESTAMP, nullable=False),
        pa.field("model_request_id", pa.string(), nullable=False),
        pa.field("deployment", pa.string()),
        pa.field("model", pa.string()),
        pa.field("operation", pa.string()),
        pa.field("api_version", pa.string()),
        pa.field("region", pa.string()),
        pa.field("prompt_tokens", pa.int64()),
        pa.field("completion_tokens", pa.int64()),
        pa.field("total_tokens", pa.int64()),
        pa.field("cached_tokens", pa.int64()),
        pa.field("is_stream", pa.bool_()),
        pa.field("sequence_number", pa.int64()),
        pa.field("resource_id", pa.string()),
        *LINEAGE_FIELDS,
    ],
    metadata={"table": "llm_log", "contract": "APIM GatewayLlmLogs via Azure Monitor"},
)
"""`record_id` is the normalised `CorrelationId`, so it joins `usage.record_id` directly. Rows are stored by
the hour of `time_generated` (`llm_log/event_date=D/event_hour=H/`, consumer/llm_log.py)."""

TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "usage": USAGE_SCHEMA,
    "payloads": PAYLOADS_SCHEMA,
    "dead_letters": DEAD_LETTERS_SCHEMA,
    "llm_log": LLM_LOG_SCHEMA,
}

PARTITION_KEYS: tuple[str, ...] = ("event_date", "event_hour")
"""Hive path keys of every lake table; event time for usage/payloads, enqueued time for dead letters."""
