"""From a batch's completed records and dead letters to Arrow tables of the lake, one per event hour.

Usage records are validated by the pydantic contract (`schemas.records.decode_usage`); a columnar fast path
(`columnar.py`) validates the common case in bulk and hands only the rows it cannot vouch for to pydantic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

import pyarrow as pa

from common.redact import describe
from schemas.arrow import DEAD_LETTERS_SCHEMA, PAYLOADS_SCHEMA, USAGE_SCHEMA
from schemas.deadletter import DeadLetterReason, DeadLetterRecord
from schemas.reassembler import CompletedRecord, EventMeta
from schemas.records import decode_usage, record_rejection, to_payload_record
from schemas.tags import TAGS_JSON, canonical_tags_json
from schemas.usage import UsageRecord

Hour = datetime
HourTables = dict[Hour, pa.Table]
TableParts = Callable[[], Iterator[pa.Table]]
"""A table produced piece by piece (each piece one Parquet row group), so large bodies never sit in memory twice."""
TableSource = pa.Table | TableParts
PAYLOAD_ROW_GROUP_BYTES = 4 * 1024 * 1024

_USAGE_FIELDS = [f.name for f in USAGE_SCHEMA if not f.name.startswith("eh_") and f.name != TAGS_JSON]
_PAYLOAD_FIELDS = [f.name for f in PAYLOADS_SCHEMA if not f.name.startswith("eh_")]
_DEAD_FIELDS = [f.name for f in DEAD_LETTERS_SCHEMA]


def hour_of(moment: datetime) -> Hour:
    return moment.replace(minute=0, second=0, microsecond=0)


def _lineage(columns: dict[str, list[object]], meta: EventMeta) -> None:
    columns["eh_partition"].append(meta.partition)
    columns["eh_sequence_number"].append(meta.sequence_number)
    columns["eh_offset"].append(meta.offset)
    columns["eh_enqueued_time"].append(meta.enqueued_time)


def _by_hour(
    items: Iterable[tuple[Hour, dict[str, object], EventMeta | None]], schema: pa.Schema, with_lineage: bool
) -> HourTables:
    grouped: dict[Hour, dict[str, list[object]]] = defaultdict(lambda: {f.name: [] for f in schema})
    for hour, values, meta in items:
        columns = grouped[hour]
        for name, value in values.items():
            columns[name].append(value)
        if with_lineage and meta is not None:
            _lineage(columns, meta)
    return {hour: pa.Table.from_pydict(cols, schema=schema) for hour, cols in sorted(grouped.items())}


def usage_values(usage: UsageRecord) -> dict[str, object]:
    values = usage.__dict__
    out = {name: values[name] for name in _USAGE_FIELDS}
    out["operation"] = usage.operation.value
    out["usage_source"] = usage.usage_source.value
    out["tags"] = sorted(usage.tags.items())  # canonical order: the columnar path cannot know the JSON order
    out["tags_json"] = canonical_tags_json(out["tags"])
    return out


def usage_tables_slow(records: list[CompletedRecord]) -> tuple[HourTables, list[DeadLetterRecord]]:
    """One pydantic validation per record: the contract itself, used for the rows the fast path cannot vouch for.

    Never raises for a record: a record that fails anywhere on its way to an Arrow row (validation, or a value
    Arrow cannot hold) becomes a `record_invalid` dead letter naming why."""
    valid: list[tuple[Hour, dict[str, object], EventMeta]] = []
    rejected: list[DeadLetterRecord] = []
    for record in records:
        try:
            result = decode_usage(record)
            if isinstance(result, DeadLetterRecord):
                rejected.append(result)
                continue
            valid.append((hour_of(result.event_time), usage_values(result), record.first))
        except Exception as exc:
            rejected.append(unconvertible(record, exc))
    tables, unwritable = _by_hour_checked(valid, USAGE_SCHEMA, records_of=records, rows_of=valid)
    return tables, rejected + unwritable


def unconvertible(record: CompletedRecord, exc: BaseException) -> DeadLetterRecord:
    return record_rejection(record, DeadLetterReason.RECORD_INVALID, f"record: cannot be stored: {describe(exc)}")


def _by_hour_checked(
    items: list[tuple[Hour, dict[str, object], EventMeta]],
    schema: pa.Schema,
    *,
    records_of: list[CompletedRecord],
    rows_of: list[tuple[Hour, dict[str, object], EventMeta]],
) -> tuple[HourTables, list[DeadLetterRecord]]:
    """`_by_hour` with lineage; if Arrow refuses an hour's rows, each row is tried alone and the ones it refuses
    are dead-lettered (their records are found by stream coordinates)."""
    try:
        return _by_hour(items, schema, with_lineage=True), []
    except Exception:
        pass
    by_meta = {(r.first.partition, r.first.sequence_number, r.record_id): r for r in records_of}
    kept: list[tuple[Hour, dict[str, object], EventMeta]] = []
    rejected: list[DeadLetterRecord] = []
    for item in rows_of:
        try:
            _by_hour([item], schema, with_lineage=True)
            kept.append(item)
        except Exception as exc:
            meta = item[2]
            record = by_meta[(meta.partition, meta.sequence_number, str(item[1]["record_id"]))]
            rejected.append(unconvertible(record, exc))
    return _by_hour(kept, schema, with_lineage=True), rejected


def payload_tables(records: list[CompletedRecord]) -> HourTables:
    def items() -> Iterable[tuple[Hour, dict[str, object], EventMeta]]:
        for record in records:
            payload = to_payload_record(record)
            values = {name: getattr(payload, name) for name in _PAYLOAD_FIELDS}
            values["part"] = payload.part.value
            yield hour_of(payload.event_time), values, record.first

    return _by_hour(items(), PAYLOADS_SCHEMA, with_lineage=True)


def payload_sources(records: list[CompletedRecord]) -> tuple[dict[Hour, TableSource], list[DeadLetterRecord]]:
    """Body records per event hour, converted lazily in row groups of about `PAYLOAD_ROW_GROUP_BYTES`, and the
    records that cannot become a row (checked here, before the lazy conversion runs inside the write)."""
    by_hour: dict[Hour, list[CompletedRecord]] = defaultdict(list)
    rejected: list[DeadLetterRecord] = []
    for record in records:
        try:
            to_payload_record(record)
        except Exception as exc:
            rejected.append(unconvertible(record, exc))
            continue
        by_hour[hour_of(to_payload_record_time(record))].append(record)

    def parts(group: list[CompletedRecord]) -> TableParts:
        def generate() -> Iterator[pa.Table]:
            piece: list[CompletedRecord] = []
            size = 0
            for record in group:
                piece.append(record)
                size += len(record.payload)
                if size >= PAYLOAD_ROW_GROUP_BYTES:
                    yield next(iter(payload_tables(piece).values()))
                    piece, size = [], 0
            if piece:
                yield next(iter(payload_tables(piece).values()))

        return generate

    return {hour: parts(group) for hour, group in sorted(by_hour.items())}, rejected


def dead_letter_sources(letters: list[DeadLetterRecord]) -> dict[Hour, TableSource]:
    """Dead letters per enqueued hour, converted lazily in row groups of about `PAYLOAD_ROW_GROUP_BYTES`."""
    by_hour: dict[Hour, list[DeadLetterRecord]] = defaultdict(list)
    for letter in letters:
        by_hour[hour_of(letter.enqueued_time)].append(letter)

    def parts(group: list[DeadLetterRecord]) -> TableParts:
        def generate() -> Iterator[pa.Table]:
            piece: list[DeadLetterRecord] = []
            size = 0
            for letter in group:
                piece.append(letter)
                size += len(letter.raw_body) + len(letter.detail)
                if size >= PAYLOAD_ROW_GROUP_BYTES:
                    yield next(iter(dead_letter_tables(piece).values()))
                    piece, size = [], 0
            if piece:
                yield next(iter(dead_letter_tables(piece).values()))

        return generate

    return {hour: parts(group) for hour, group in sorted(by_hour.items())}


def to_payload_record_time(record: CompletedRecord) -> datetime:
    """The payload row's event time (the envelope's `emitted_at`), as `to_payload_record` computes it."""
    return datetime.fromisoformat(record.emitted_at[:26] + "+00:00")


def dead_letter_tables(letters: list[DeadLetterRecord]) -> HourTables:
    def items() -> Iterable[tuple[Hour, dict[str, object], None]]:
        for letter in letters:
            values = {name: getattr(letter, name) for name in _DEAD_FIELDS}
            values["reason"] = letter.reason.value
            yield hour_of(letter.enqueued_time), values, None

    return _by_hour(items(), DEAD_LETTERS_SCHEMA, with_lineage=False)


UsageConverter = Callable[[list[CompletedRecord]], tuple[HourTables, list[DeadLetterRecord]]]


def merge_hour_tables(parts: Iterable[HourTables]) -> HourTables:
    grouped: dict[Hour, list[pa.Table]] = defaultdict(list)
    for part in parts:
        for hour, table in part.items():
            grouped[hour].append(table)
    return {hour: pa.concat_tables(tables) for hour, tables in sorted(grouped.items())}
