"""The columnar fast path's rules, proven ON the fast path (issue 20): every case counts the rows the fast path took
(`vouched`), so a check missing from the fast path cannot hide behind the pydantic fallback.

A row the contract refuses must never be vouched for (it is left to pydantic, which dead-letters it); a row at the
contract's boundary must be vouched for; and the batch's result always equals pydantic's, row for row.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.columnar import usage_tables, vouched
from consumer.rows import usage_tables_slow
from schemas.envelope import RecordKind
from schemas.reassembler import CompletedRecord, EventMeta
from tests.unit.consumer.streams import rid, usage_record

ORDINARY = 5


def completed(index: int, **changes: object) -> CompletedRecord:
    record_id = rid(index)
    payload = json.dumps(usage_record(record_id, index, **changes)).encode()
    meta = EventMeta("0", index, str(index * 10 + 3), datetime(2026, 11, 27, tzinfo=UTC))
    return CompletedRecord(record_id, RecordKind.USAGE, payload, len(payload), "application/json", "x", meta, index)


def canonical(tables: dict, rejected: list) -> tuple[list, list]:
    rows = sorted((r for table in tables.values() for r in table.to_pylist()), key=lambda r: r["record_id"])
    return rows, sorted((d.record_id, d.reason.value, d.detail) for d in rejected)


def batch_with(**changes: object) -> list[CompletedRecord]:
    return [completed(i) for i in range(ORDINARY)] + [completed(ORDINARY, **changes)]


def check(records: list[CompletedRecord], fast: int, refused: int) -> None:
    assert vouched(records) == fast
    tables, rejected = usage_tables(records)
    assert canonical(tables, rejected) == canonical(*usage_tables_slow(records))
    assert len(rejected) == refused


REFUSED = {
    "status 600 is not an HTTP status": {"status_code": 600},
    "status 99 is not an HTTP status": {"status_code": 99},
    "cached tokens cannot exceed prompt tokens": {"prompt_tokens": 10, "cached_tokens": 11},
    "reasoning tokens cannot exceed completion tokens": {"completion_tokens": 5, "reasoning_tokens": 6},
    "a name is at most 256 characters": {"deployment": "d" * 257},
    "a subscription name is at most 256 characters": {"subscription_name": "n" * 257},
    "a tag key is at most 64 characters": {"tags": {"k" * 65: "v"}},
    "a tag value is at most 256 characters": {"tags": {"team": "v" * 257}},
    "at most 32 tags": {"tags": {f"t{i:02d}": "v" for i in range(33)}},
    "a tag value is never null": {"tags": {"team": None}},
    "token counts are not negative": {"prompt_tokens": -1},
    "token counts fit a double exactly": {"total_tokens": 2**53 + 1},
    "duration is not negative": {"duration_ms": -1},
    "schema version 1 only": {"schema_version": 2},
    "event time has an offset": {"event_time": "2026-11-27T10:00:00"},
    "a known operation": {"operation": "teleport"},
    "a known usage source": {"usage_source": "guessed"},
    "no token counts without reported usage": {"usage_source": "missing"},
    "reported usage has some count": {
        "prompt_tokens": None,
        "completion_tokens": None,
        "total_tokens": None,
        "usage_source": "reported",
    },
}

BOUNDARY = {
    "status 100": {"status_code": 100},
    "status 599": {"status_code": 599},
    "cached equals prompt": {"prompt_tokens": 10, "cached_tokens": 10},
    "reasoning equals completion": {"completion_tokens": 5, "reasoning_tokens": 5},
    "a 256-character name": {"deployment": "d" * 256, "subscription_name": "n" * 256},
    "a 64-character tag key": {"tags": {"k" * 64: "v"}},
    "a 256-character tag value": {"tags": {"team": "v" * 256}},
    "32 tags": {"tags": {f"t{i:02d}": "v" for i in range(32)}},
    "2**53 tokens": {"total_tokens": 2**53},
    "zero duration": {"duration_ms": 0},
    "missing usage with no counts": {
        "usage_source": "missing",
        "prompt_tokens": None,
        "completion_tokens": None,
        "total_tokens": None,
    },
}


@pytest.mark.parametrize("changes", REFUSED.values(), ids=REFUSED.keys())
def test_the_fast_path_never_vouches_for_a_row_the_contract_refuses(changes):
    """Each contract rule is checked ON the fast path: the bad row is left to pydantic and dead-lettered."""
    check(batch_with(**changes), fast=ORDINARY, refused=1)


@pytest.mark.parametrize("changes", BOUNDARY.values(), ids=BOUNDARY.keys())
def test_the_fast_path_takes_rows_at_the_contracts_boundaries(changes):
    """A row exactly at a limit is valid and the fast path takes it itself."""
    check(batch_with(**changes), fast=ORDINARY + 1, refused=0)


NAMES = st.text(alphabet=st.characters(codec="ascii", exclude_characters='"\\\r\n'), max_size=256)
TAG_VALUES = NAMES.filter(lambda v: not re.match(r"\s*\d{4}-\d{2}-\d{2}", v))
"""Tag values Arrow's JSON reader keeps as text: it infers a date or timestamp from an ISO-date-looking value, and such
a batch goes to pydantic instead (the same rows, more slowly: `test_a_date_looking_tag_value_falls_back`)."""
COUNTS = st.integers(min_value=0, max_value=2**53)


@st.composite
def contract_records(draw, index: int) -> CompletedRecord:
    prompt, completion = draw(COUNTS), draw(COUNTS)
    changes = {
        "status_code": draw(st.integers(100, 599)),
        "duration_ms": draw(st.integers(0, 2**62)),
        "deployment": draw(NAMES),
        "model": draw(NAMES | st.none()),
        "prompt_tokens": prompt,
        "cached_tokens": draw(st.integers(0, prompt)),
        "completion_tokens": completion,
        "reasoning_tokens": draw(st.integers(0, completion)),
        "total_tokens": draw(COUNTS),
        "tags": draw(st.dictionaries(st.text("abcdefgh", min_size=1, max_size=64), TAG_VALUES, max_size=32)),
    }
    return completed(index, **changes)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(*[contract_records(i) for i in range(n)])))
def test_every_row_within_the_contract_takes_the_fast_path_and_matches_pydantic(records):
    """Property: rows drawn inside the contract (all the ranges above, up to their limits) are ALL taken by the fast
    path (counted, not assumed) and give exactly pydantic's rows."""
    records = list(records)
    check(records, fast=len(records), refused=0)


def test_a_date_looking_tag_value_falls_back():
    """Found by the property above: `{"a": "0000-01-01"}` makes Arrow read the tag as a date, so the batch is not
    vouched by the fast path; pydantic then decides every row, and the rows are the same."""
    check([completed(0, tags={"a": "0000-01-01"}), completed(1, tags={"a": "2026-11-27"})], fast=0, refused=0)
