"""The specification and the reference codec agree (schemas/README.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from schemas.codec import ChunkingParams, encode
from schemas.deadletter import DeadLetterReason
from schemas.envelope import ENVELOPE_MEMBERS
from schemas.export import export_json_schemas
from schemas.limits import DEFAULT_CHUNK_BYTES, MAX_MESSAGE_BYTES
from schemas.usage import UsageRecord, UsageSource

SPEC = (Path(__file__).resolve().parents[3] / "schemas" / "README.md").read_text(encoding="utf-8")


def test_the_documented_example_is_what_the_encoder_emits():
    example = re.search(r"```\n(\{\"v\":1.*\})\n```", SPEC).group(1)
    obj = json.loads(example)
    [body] = encode(obj["record_id"], obj["kind"], b"abc", emitted_at=obj["emitted_at"])
    assert body.decode() == example


def test_members_in_spec_order():
    section = SPEC.split("## 2.")[1].split("## 3.")[0]
    table = re.findall(r"^\| `(\w+)`\s+\|", section, flags=re.M)
    assert tuple(table) == ENVELOPE_MEMBERS
    [body] = encode("x", "usage", b"", emitted_at="2026-01-01T00:00:00.0000000Z")
    assert tuple(json.loads(body)) == ENVELOPE_MEMBERS


def test_every_dead_letter_reason_and_usage_source_is_specified():
    for reason in DeadLetterReason:
        assert f"| `{reason.value}` |" in SPEC
    for source in UsageSource:
        assert f"| `{source.value}` |" in SPEC
    for name in UsageRecord.model_fields:
        assert f"`{name}`" in SPEC, name


def test_default_chunks_stay_under_the_message_limit_with_the_largest_header():
    rid = "r" * 128
    bodies = encode(
        rid,
        "response_body",
        b"\x00" * (DEFAULT_CHUNK_BYTES * 2),
        emitted_at="2026-01-01T00:00:00.0000000Z",
        content_type="t" * 500,
        params=ChunkingParams(),
    )
    assert max(len(b) for b in bodies) <= MAX_MESSAGE_BYTES - 3000


def test_schemas_export_writes_one_json_schema_per_record(tmp_path):
    paths = export_json_schemas(tmp_path)
    assert sorted(p.name for p in paths) == [
        "dead_letter.v1.schema.json",
        "payload.v1.schema.json",
        "usage.v1.schema.json",
    ]
    usage = json.loads((tmp_path / "usage.v1.schema.json").read_text())
    assert {"record_id", "event_time", "usage_source", "tags"} <= set(usage["properties"])
