"""The columnar fast path for usage records: Arrow's NDJSON reader over a batch's payloads, vectorised checks
of every rule of `schemas.usage.UsageRecord`, and pydantic (the contract) only for the rows the checks cannot
vouch for. Those rows get pydantic's verdict exactly: accepted in lax mode, or dead-lettered with its explanation.
A batch Arrow cannot parse at all (a mistyped member somewhere) goes through pydantic as a whole.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from consumer.rows import HourTables, merge_hour_tables, usage_tables_slow
from schemas.arrow import TIMESTAMP, USAGE_SCHEMA
from schemas.deadletter import DeadLetterRecord
from schemas.limits import MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_TAGS
from schemas.reassembler import CompletedRecord
from schemas.tags import TAGS_JSON, tags_json_array
from schemas.usage import TOKEN_FIELDS, TOKEN_SOURCES, Operation, UsageSource

_NAME_FIELDS = (
    "api_version",
    "deployment",
    "model",
    "region",
    "backend_id",
    "gateway_id",
    "service_name",
    "subscription_id",
    "subscription_name",
    "product_id",
    "api_id",
    "operation_id",
    "user_id",
    "client_ip",
    "error_code",
)
_READ_SCHEMA = pa.schema(
    [
        pa.field("schema_version", pa.int64()),
        pa.field("record_id", pa.string()),
        pa.field("event_time", pa.string()),
        pa.field("duration_ms", pa.int64()),
        pa.field("status_code", pa.int64()),
        pa.field("operation", pa.string()),
        pa.field("stream", pa.bool_()),
        *[pa.field(name, pa.string()) for name in _NAME_FIELDS],
        *[pa.field(name, pa.int64()) for name in TOKEN_FIELDS],
        pa.field("usage_source", pa.string()),
    ]
)
_EVENT_TIME = (
    r"^(000[2-9]|00[1-9]\d|0[1-9]\d\d|[1-8]\d{3}|9[0-8]\d\d|99[0-8]\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
"""The times the fast path converts itself: years 0002-9998 (so the UTC instant stays inside Python's calendar
whatever the offset), every other member in range. Anything else (year 0001 at +01:00, hour 24, a leap second) is
pydantic's to judge."""
_ARROW_MAX_BRACKETS = 64
"""A payload with more `[` and `{` than this never reaches Arrow's JSON reader: it can nest that deep, and
Arrow's reader crashes the process (SIGSEGV) on deeply nested input. A usage record has two."""
_OPERATIONS = pa.array([o.value for o in Operation])
_SOURCES = pa.array([s.value for s in UsageSource])
_TOKEN_SOURCES = pa.array([s.value for s in TOKEN_SOURCES])
_MAX_TOKENS = 2**53
_TAGS_TYPE = USAGE_SCHEMA.field("tags").type


def _mask(expr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(expr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _null_or(column: pa.ChunkedArray, check: pa.ChunkedArray) -> np.ndarray:
    return _mask(pc.or_kleene(pc.is_null(column), check))


_NULL_TAG = re.compile(rb'"tags"\s*:\s*\{(?:"(?:[^"\\]|\\.)*"|[^"}])*?\bnull\b')
"""A null tag value: Arrow shows it like an absent key, pydantic rejects it."""


def _tag_map(tags: pa.ChunkedArray | None, payloads: list[bytes]) -> tuple[pa.Array, np.ndarray] | None:
    """Tags as Arrow's reader saw them (a struct of every key in the batch) -> a map per row, keys sorted, and
    which rows respect the contract's bounds. None if some tag value is not a string (pydantic decides then)."""
    n = len(payloads)
    if tags is None:
        return pa.array([[] for _ in range(n)], type=_TAGS_TYPE), np.ones(n, dtype=bool)
    if not pa.types.is_struct(tags.type) or any(not pa.types.is_string(f.type) for f in tags.type):
        return None
    struct = tags.combine_chunks() if isinstance(tags, pa.ChunkedArray) else tags
    ok = _mask(pc.is_valid(struct))
    names = [f.name for f in struct.type]
    order = sorted(range(len(names)), key=lambda j: names[j])
    children = [struct.field(j) for j in order]
    sorted_names = [names[j] for j in order]
    if not children:
        offsets = pa.array(np.zeros(n + 1, dtype=np.int32))
        empty = pa.array([], pa.string())
        return pa.MapArray.from_arrays(offsets, empty, empty), ok
    valid = np.column_stack([_mask(pc.is_valid(c)) for c in children]) & ok[:, None]
    rows, cols = np.nonzero(valid)
    counts = valid.sum(axis=1)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    stacked = pa.concat_arrays(children)
    values = stacked.take(pa.array(cols.astype(np.int64) * n + rows))
    keys = pa.array(np.array(sorted_names, dtype=object)[cols] if len(cols) else [], pa.string())
    key_ok = np.array([1 <= len(k) <= MAX_TAG_KEY_CHARS for k in sorted_names], dtype=bool)[cols]
    entry_ok = key_ok & _mask(pc.less_equal(pc.utf8_length(values), MAX_TAG_VALUE_CHARS))
    ok &= counts <= MAX_TAGS
    ok[rows[~entry_ok]] = False
    for i in np.flatnonzero(ok & (counts < len(children))):
        if _NULL_TAG.search(payloads[i]):
            ok[i] = False
    return pa.MapArray.from_arrays(pa.array(offsets), keys, values), ok


def _vouched(table: pa.Table, record_ids: pa.Array) -> np.ndarray:
    col = table.column
    ok = _mask(pc.equal(col("record_id"), record_ids))
    ok &= _mask(pc.equal(col("schema_version"), 1))
    ok &= _mask(pc.match_substring_regex(col("event_time"), _EVENT_TIME))
    ok &= _null_or(col("duration_ms"), pc.greater_equal(col("duration_ms"), 0))
    ok &= _mask(pc.and_(pc.greater_equal(col("status_code"), 100), pc.less_equal(col("status_code"), 599)))
    ok &= _mask(pc.is_in(col("operation"), value_set=_OPERATIONS))
    ok &= _mask(pc.is_in(col("usage_source"), value_set=_SOURCES))
    ok &= _mask(pc.is_valid(col("stream")))
    for name in _NAME_FIELDS:
        ok &= _null_or(col(name), pc.less_equal(pc.utf8_length(col(name)), 256))
    for name in TOKEN_FIELDS:
        c = col(name)
        ok &= _null_or(c, pc.and_(pc.greater_equal(c, 0), pc.less_equal(c, _MAX_TOKENS)))
    reports = _mask(pc.is_in(col("usage_source"), value_set=_TOKEN_SOURCES))
    any_token = np.zeros(table.num_rows, dtype=bool)
    for name in TOKEN_FIELDS:
        any_token |= _mask(pc.is_valid(col(name)))
    some_total = _mask(
        pc.or_(
            pc.or_(pc.is_valid(col("prompt_tokens")), pc.is_valid(col("completion_tokens"))),
            pc.is_valid(col("total_tokens")),
        )
    )
    ok &= np.where(reports, some_total, ~any_token)
    ok &= _null_or(col("cached_tokens"), pc.less_equal(col("cached_tokens"), col("prompt_tokens"))) | ~_mask(
        pc.is_valid(col("prompt_tokens"))
    )
    ok &= _null_or(col("reasoning_tokens"), pc.less_equal(col("reasoning_tokens"), col("completion_tokens"))) | ~_mask(
        pc.is_valid(col("completion_tokens"))
    )
    return ok


def _fast_table(table: pa.Table, records: list[CompletedRecord], tags: pa.Array) -> pa.Table:
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for field in USAGE_SCHEMA:
        name = field.name
        if name == "event_time":
            columns[name] = pc.cast(table.column(name), TIMESTAMP)
        elif name == "tags":
            columns[name] = tags.cast(_TAGS_TYPE)
        elif name == TAGS_JSON:
            columns[name] = tags_json_array(tags)
        elif name == "eh_partition":
            columns[name] = pa.array([r.first.partition for r in records], pa.string())
        elif name == "eh_sequence_number":
            columns[name] = pa.array([r.first.sequence_number for r in records], pa.int64())
        elif name == "eh_offset":
            columns[name] = pa.array([r.first.offset for r in records], pa.string())
        elif name == "eh_enqueued_time":
            columns[name] = pa.array([r.first.enqueued_time for r in records], TIMESTAMP)
        else:
            columns[name] = pc.cast(table.column(name), field.type)
    return pa.Table.from_pydict(columns, schema=USAGE_SCHEMA)


def _by_hour(table: pa.Table) -> HourTables:
    hours = pc.floor_temporal(table.column("event_time"), unit="hour")
    out: HourTables = {}
    for hour in sorted(pc.unique(hours).to_pylist()):
        out[hour] = table.filter(pc.equal(hours, pa.scalar(hour, TIMESTAMP)))
    return out


def _is_utf8(payload: bytes) -> bool:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def arrow_safe(record: CompletedRecord) -> bool:
    """May this payload go to Arrow's JSON reader? Valid UTF-8 (the reader does not check, and would store what
    it reads in string columns), one line, not truncated (pydantic explains those), not nested
    deeper than `_ARROW_MAX_BRACKETS` (which can crash the reader), no `\\uD800`-`\\uDFFF` escape (a lone
    surrogate makes the reader refuse the whole batch; pydantic judges it alone)."""
    payload = record.payload
    return (
        not record.truncated
        and (payload.isascii() or _is_utf8(payload))
        and b"\n" not in payload
        and b"\r" not in payload
        and payload.count(b"[") + payload.count(b"{") <= _ARROW_MAX_BRACKETS
        and b"\\ud" not in payload
        and b"\\uD" not in payload
    )


def _parse(records: list[CompletedRecord]) -> tuple[pa.Table, pa.Array, np.ndarray] | None:
    """Arrow's reading of the batch, the tags of each row, and which rows the vectorised checks vouch for;
    None when Arrow cannot read the batch as a whole (then pydantic judges every row). Every record must be
    `arrow_safe`."""
    payloads = [r.payload for r in records]
    joined = b"\n".join(payloads)
    try:
        table = pj.read_json(
            io.BytesIO(joined),
            read_options=pj.ReadOptions(block_size=1 << 26),
            parse_options=pj.ParseOptions(explicit_schema=_READ_SCHEMA, unexpected_field_behavior="infer"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(records):
        return None
    tag_map = _tag_map(table.column("tags") if "tags" in table.column_names else None, payloads)
    if tag_map is None:
        return None
    tags, tags_ok = tag_map
    try:
        ok = _vouched(table, pa.array([r.record_id for r in records], pa.string())) & tags_ok
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table, tags, ok


def vouched(records: list[CompletedRecord]) -> int:
    """How many of `records` the fast path takes without asking pydantic (for tests and benchmarks)."""
    safe = [r for r in records if arrow_safe(r)]
    parsed = _parse(safe) if safe else None
    return 0 if parsed is None else int(parsed[2].sum())


def usage_tables(records: list[CompletedRecord]) -> tuple[HourTables, list[DeadLetterRecord]]:
    """Validate a batch of usage records in bulk; the result equals `rows.usage_tables_slow` row for row.

    Whatever goes wrong in the fast path sends its records to pydantic, which never raises for a record: every
    input ends as a row or a dead letter."""
    if not records:
        return {}, []
    safe = [r for r in records if arrow_safe(r)]
    slow = [r for r in records if not arrow_safe(r)] if len(safe) != len(records) else []
    parts: list[HourTables] = []
    if safe:
        try:
            fast = _fast_part(safe)
        except Exception:
            fast = None
        if fast is None:
            slow = records
        else:
            part, rejected_by_arrow = fast
            parts.append(part)
            slow = rejected_by_arrow + slow
    rejected: list[DeadLetterRecord] = []
    if slow:
        slow_tables, rejected = usage_tables_slow(slow)
        parts.append(slow_tables)
    return merge_hour_tables(parts), rejected


def _fast_part(records: list[CompletedRecord]) -> tuple[HourTables, list[CompletedRecord]] | None:
    """The rows the fast path vouches for, by hour, and the records it leaves to pydantic; None: all of them."""
    parsed = _parse(records)
    if parsed is None:
        return None
    table, tags, ok = parsed
    fast_idx = np.flatnonzero(ok)
    rest = [records[i] for i in np.flatnonzero(~ok)]
    if not len(fast_idx):
        return {}, rest
    take = pa.array(fast_idx)
    try:
        fast = _fast_table(table.take(take), [records[i] for i in fast_idx], tags.take(take))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return _by_hour(fast), rest
