"""The columnar fast path gives exactly pydantic's verdict, row for row, and takes the ordinary rows itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.columnar import usage_tables, vouched
from consumer.rows import usage_tables_slow
from schemas.envelope import RecordKind
from schemas.reassembler import CompletedRecord, EventMeta
from tests.support.profiles import examples
from tests.unit.consumer.streams import rid, usage_record

META = EventMeta("0", 1, "1024", datetime(2026, 11, 27, tzinfo=UTC))


def _completed(record_id: str, payload: bytes, seq: int = 1) -> CompletedRecord:
    meta = EventMeta("0", seq, str(seq * 10 + 3), META.enqueued_time)
    return CompletedRecord(
        record_id,
        RecordKind.USAGE,
        payload,
        len(payload),
        "application/json",
        "2026-11-27T10:00:00.0000000Z",
        meta,
        seq,
    )


def _canonical(tables: dict, rejected: list) -> tuple[list, list]:
    rows = []
    for hour, table in tables.items():
        rows += [(hour.isoformat(), r) for r in table.to_pylist()]
    rows.sort(key=lambda item: item[1]["record_id"])
    letters = sorted((d.record_id, d.reason.value, d.detail) for d in rejected)
    return rows, letters


def test_ordinary_records_take_the_fast_path():
    records = [_completed(rid(i), json.dumps(usage_record(rid(i), i)).encode(), i) for i in range(200)]
    assert vouched(records) == 200
    assert _canonical(*usage_tables(records)) == _canonical(*usage_tables_slow(records))


MUTATIONS = st.one_of(
    st.tuples(st.just("status_code"), st.sampled_from([99, 100, 599, 600, "200", 200.0, None, True])),
    st.tuples(
        st.just("event_time"),
        st.sampled_from(
            [
                "2026-11-27T10:00:00+01:00",
                "2026-11-27T10:00:00Z",
                "2026-11-27T10:00:00.1234567Z",
                "2026-11-27T10:00:00",
                "2026-11-27 10:00:00+00:00",
                "2026-13-27T10:00:00Z",
                "yesterday",
                1764237600,
                None,
            ]
        ),
    ),
    st.tuples(st.just("operation"), st.sampled_from(["embeddings", "teleport", None, 3])),
    st.tuples(st.just("stream"), st.sampled_from([True, False, None, 1, "true"])),
    st.tuples(st.just("duration_ms"), st.sampled_from([0, -1, None, 2**62, 1.5])),
    st.tuples(st.just("deployment"), st.sampled_from(["d" * 256, "d" * 257, "é" * 256, None, 5])),
    st.tuples(
        st.just("tags"),
        st.sampled_from(
            [
                {},
                {"t": "v"},
                {"": "v"},
                {"t": 1},
                {"k" * 65: "v"},
                {f"k{i}": "v" for i in range(33)},
                None,
                {"t": {"x": "y"}},
            ]
        ),
    ),
    st.tuples(st.just("prompt_tokens"), st.sampled_from([0, -1, None, 2**53, 2**53 + 1, "5"])),
    st.tuples(st.just("cached_tokens"), st.sampled_from([0, 5, 10**6, None])),
    st.tuples(st.just("reasoning_tokens"), st.sampled_from([0, 10**6, None])),
    st.tuples(st.just("usage_source"), st.sampled_from(["reported", "missing", "stream_no_usage", "nope", None])),
    st.tuples(st.just("schema_version"), st.sampled_from([1, 2, None, "1"])),
    st.tuples(st.just("record_id"), st.sampled_from(["other-id", None])),
    st.tuples(st.just("extra_member"), st.sampled_from([1, "x", [1, 2]])),
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(MUTATIONS, max_size=3), min_size=1, max_size=12), st.booleans())
def test_fast_and_pydantic_paths_agree_row_for_row(mutations, drop_a_field):
    records = []
    for i, changes in enumerate(mutations):
        record = usage_record(rid(i), i)
        for key, value in changes:
            record[key] = value
        if drop_a_field and i == 0:
            record.pop("stream", None)
        records.append(_completed(rid(i), json.dumps(record).encode(), i))
    assert _canonical(*usage_tables(records)) == _canonical(*usage_tables_slow(records))


@pytest.mark.parametrize("payload", [b'{"a": 1}\n', b"[1, 2]", b"not json", b'{"record_id": "\\ud800"}'])
def test_unreadable_batches_fall_back_to_pydantic(payload):
    records = [_completed(rid(0), json.dumps(usage_record(rid(0), 0)).encode()), _completed(rid(1), payload, 2)]
    tables, rejected = usage_tables(records)
    assert [r["record_id"] for t in tables.values() for r in t.to_pylist()] == [rid(0)]
    assert [d.record_id for d in rejected] == [rid(1)]
    assert isinstance(next(iter(tables.values())), pa.Table)


@pytest.mark.parametrize(
    "tags",
    [
        {"zeta": "1", "alpha": "2", "mid": "3"},
        {"mid": "é" * 256, "zeta": None},
        {"alpha": "x" * 257},
        {f"k{i}": "v" for i in range(33)},
        {"": "empty key"},
        {"a": "}", "zeta": None},
        {"a": "null", "b": "x"},
    ],
)
def test_tags_agree_with_pydantic(tags):
    records = [
        _completed(rid(0), json.dumps(usage_record(rid(0), 0, tags={"b": "1", "a": "2", "zeta": "z"})).encode()),
        _completed(rid(1), json.dumps(usage_record(rid(1), 1, tags=tags)).encode(), 2),
    ]
    assert _canonical(*usage_tables(records)) == _canonical(*usage_tables_slow(records))
