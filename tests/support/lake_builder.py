"""Writes usage (and payload / dead-letter) rows into a lake the way the consumer lays it out, for tests and bench."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.arrow import DEAD_LETTERS_SCHEMA, PAYLOADS_SCHEMA, USAGE_SCHEMA
from schemas.lake import LakeLocation, partition_dir
from schemas.tags import TAGS_JSON, canonical_tags_json

_sequence = itertools.count(1)


def usage_row(
    *,
    when: datetime,
    deployment: str | None = "gpt-4.1",
    model: str | None = "gpt-4.1",
    team: str | None = "a",
    prompt: int | None = None,
    cached: int | None = None,
    completion: int | None = None,
    reasoning: int | None = None,
    status: int = 200,
    record_id: str | None = None,
    region: str | None = "swedencentral",
    subscription: str = "sub-1",
    product: str = "starter",
    partition: str = "0",
) -> dict[str, Any]:
    has_tokens = prompt is not None or completion is not None
    total = (prompt or 0) + (completion or 0) if has_tokens else None
    seq = next(_sequence)
    return {
        "schema_version": 1,
        "record_id": record_id or str(uuid.uuid4()),
        "event_time": when,
        "duration_ms": 120,
        "status_code": status,
        "operation": "chat.completions",
        "stream": False,
        "api_version": "2025-04-01-preview",
        "deployment": deployment,
        "model": model,
        "region": region,
        "backend_id": "aoai",
        "gateway_id": "managed",
        "service_name": "apim-test",
        "subscription_id": subscription,
        "subscription_name": subscription.upper(),
        "product_id": product,
        "api_id": "openai",
        "operation_id": "chat",
        "user_id": None,
        "client_ip": None,
        "tags": [("team", team)] if team else [],
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "cached_tokens": cached if cached is not None else (0 if prompt is not None else None),
        "reasoning_tokens": reasoning if reasoning is not None else (0 if completion is not None else None),
        "usage_source": "reported" if has_tokens else "error_response",
        "error_code": None if status < 400 else "429",
        "eh_partition": partition,
        "eh_sequence_number": seq,
        "eh_offset": str(seq * 100),
        "eh_enqueued_time": when,
    }


@dataclass
class LakeBuilder:
    location: LakeLocation
    files: list[str] = field(default_factory=list)

    def _write(self, table_name: str, schema: pa.Schema, rows: list[dict[str, Any]], name: str | None) -> list[str]:
        by_hour: dict[datetime, list[dict[str, Any]]] = {}
        key = "enqueued_time" if table_name == "dead_letters" else "event_time"
        for row in rows:
            moment = row[key].astimezone(UTC)
            by_hour.setdefault(moment.replace(minute=0, second=0, microsecond=0), []).append(row)
        written = []
        for hour, hour_rows in sorted(by_hour.items()):
            directory = partition_dir(self.location, table_name, hour)
            self.location.filesystem.create_dir(directory, recursive=True)
            path = f"{directory}/{name or uuid.uuid4().hex}.parquet"
            pq.write_table(pa.Table.from_pylist(hour_rows, schema=schema), path, filesystem=self.location.filesystem)
            written.append(path)
        self.files.extend(written)
        return written

    def usage(self, rows: list[dict[str, Any]], name: str | None = None) -> list[str]:
        """Usage rows as the consumer writes them: `tags_json` derived from `tags` unless a row sets it."""
        rows = [{TAGS_JSON: canonical_tags_json(_pairs(row.get("tags")))} | row for row in rows]
        return self._write("usage", USAGE_SCHEMA, rows, name)

    def payloads(self, rows: list[dict[str, Any]]) -> list[str]:
        return self._write("payloads", PAYLOADS_SCHEMA, rows, None)

    def dead_letters(self, rows: list[dict[str, Any]]) -> list[str]:
        return self._write("dead_letters", DEAD_LETTERS_SCHEMA, rows, None)


def payload_row(record_id: str, when: datetime, body: str = '{"messages":[]}') -> dict[str, Any]:
    seq = next(_sequence)
    return {
        "record_id": record_id,
        "part": "request",
        "event_time": when,
        "content_type": "application/json",
        "body": body,
        "body_encoding": "utf-8",
        "truncated": False,
        "original_bytes": len(body),
        "captured_bytes": len(body),
        "eh_partition": "0",
        "eh_sequence_number": seq,
        "eh_offset": str(seq),
        "eh_enqueued_time": when,
    }


def dead_letter_row(when: datetime, reason: str = "envelope_not_json") -> dict[str, Any]:
    seq = next(_sequence)
    return {
        "reason": reason,
        "detail": "test",
        "partition": "1",
        "sequence_number": seq,
        "offset": str(seq),
        "enqueued_time": when,
        "record_id": None,
        "kind": None,
        "raw_body": b"not json",
        "raw_bytes": 8,
    }


def _pairs(tags: Any) -> list[tuple[str, str]]:
    if not tags:
        return []
    return list(tags.items()) if isinstance(tags, dict) else [tuple(pair) for pair in tags]
