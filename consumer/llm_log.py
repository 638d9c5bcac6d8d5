"""The second source: APIM's LLM logs, read from their own hub into the `llm_log` lake table (README, "LLM logs").

Each event on that hub is one Azure Monitor resource-log document (`{"records": [...]}`), decoded whole by
`schemas.llm_log.decode_batch`: its `GatewayLlmLogs` records become `llm_log` rows; connectivity probes, other
categories and empty documents are counted (`chargeback.consumer.skipped`, by reason); what breaks the contract
becomes a dead letter (`llm_log_not_json`, `llm_log_invalid`, kind `llm_log`) at the event's stream coordinates.
Every row is complete on arrival, so this decoder never holds a checkpoint back; everything else (batches,
rotation, write-ahead flush state, file names from stream coordinates, the checkpoint rule, fail-stop) is the usage
hub's machinery (consumer/partition.py), under the source name `llm_log` (in every file name and flush-state key).

Duplicates are kept: the same `CorrelationId` twice (a redelivered event, or a message split by `SequenceNumber`)
gives two rows; the aggregator dedups by `record_id` (aggregator/reconcile.py says how).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

import pyarrow as pa

from common.redact import describe
from consumer.outputs import LlmLogRow, Output
from consumer.rows import Hour, hour_of
from schemas.arrow import LLM_LOG_SCHEMA
from schemas.deadletter import DeadLetterReason, DeadLetterRecord, dead_letter
from schemas.llm_log import decode_batch
from schemas.reassembler import EventMeta

SOURCE = "llm_log"
"""The source's name: in file names, flush-state keys and metric labels; also the table it writes."""
KIND = "llm_log"
"""The `kind` of its dead letters."""

_COLUMNS = [f.name for f in LLM_LOG_SCHEMA if not f.name.startswith("eh_")]


def _letter(reason: DeadLetterReason, detail: str, body: bytes, meta: EventMeta) -> DeadLetterRecord:
    return dead_letter(
        reason,
        detail,
        partition=meta.partition,
        sequence_number=meta.sequence_number,
        offset=meta.offset,
        enqueued_time=meta.enqueued_time,
        raw=body,
        kind=KIND,
    )


class LlmLogDecoder:
    """A `consumer.sources.Decoder` for the LLM-log hub: one event, one document, decoded on its own."""

    pending_bytes = 0
    """Nothing is held between events."""

    def __init__(self, on_skipped: Callable[[Counter[str]], None] | None = None) -> None:
        self.on_skipped = on_skipped

    def feed(self, body: bytes, meta: EventMeta) -> list[Output]:
        try:
            decoded = decode_batch(body)
        except Exception as exc:  # the decoder promises not to raise; if it ever does, the event is still accounted
            return [_letter(DeadLetterReason.LLM_LOG_INVALID, f"cannot be decoded: {describe(exc)}", body, meta)]
        share = len(body) // max(1, len(decoded.rows))
        outputs: list[Output] = [LlmLogRow(row, meta, body, share) for row in decoded.rows]
        outputs.extend(_letter(DeadLetterReason(r.reason), r.detail, body, meta) for r in decoded.rejected)
        skipped = Counter(probe=decoded.probes, other_category=decoded.other_categories)
        if not outputs and not skipped.total():
            skipped["empty_document"] = 1  # `{"records": []}`: nothing lost, but never silent
        if self.on_skipped is not None and skipped.total():
            self.on_skipped(+skipped)
        return outputs

    def feed_many(self, bodies: Sequence[bytes], metas: Sequence[EventMeta]) -> list[list[Output]]:
        return [self.feed(body, meta) for body, meta in zip(bodies, metas, strict=True)]

    def low_watermark(self, partition: str) -> int | None:
        return None

    def forget_partition(self, partition: str) -> None:
        return None

    def restore_finished(self, partition: str, records: Iterable[tuple[str, str, int]]) -> None:
        return None


def _columns(rows: Iterable[LlmLogRow]) -> dict[str, list[object]]:
    columns: dict[str, list[object]] = {f.name: [] for f in LLM_LOG_SCHEMA}
    for row in rows:
        for name in _COLUMNS:
            columns[name].append(row.values.get(name))
        meta = row.meta
        columns["eh_partition"].append(meta.partition)
        columns["eh_sequence_number"].append(meta.sequence_number)
        columns["eh_offset"].append(meta.offset)
        columns["eh_enqueued_time"].append(meta.enqueued_time)
    return columns


def _table(rows: list[LlmLogRow]) -> pa.Table:
    return pa.Table.from_pydict(_columns(rows), schema=LLM_LOG_SCHEMA)


def llm_log_tables(rows: list[LlmLogRow]) -> tuple[dict[Hour, pa.Table], list[DeadLetterRecord]]:
    """A batch's rows as one table per hour of `time_generated`; a row Arrow refuses (none should: the decoder
    checks every value) is tried alone and dead-lettered `llm_log_invalid`, never raised."""
    by_hour: dict[Hour, list[LlmLogRow]] = defaultdict(list)
    rejected: list[DeadLetterRecord] = []
    for row in rows:
        try:
            by_hour[hour_of(row.values["time_generated"])].append(row)
        except Exception as exc:
            rejected.append(_unstorable(row, exc))
    tables: dict[Hour, pa.Table] = {}
    for hour, group in sorted(by_hour.items()):
        try:
            tables[hour] = _table(group)
            continue
        except Exception:
            pass
        kept = []
        for row in group:
            try:
                _table([row])
                kept.append(row)
            except Exception as exc:
                rejected.append(_unstorable(row, exc))
        if kept:
            tables[hour] = _table(kept)
    return tables, rejected


def _unstorable(row: LlmLogRow, exc: BaseException) -> DeadLetterRecord:
    return _letter(DeadLetterReason.LLM_LOG_INVALID, f"row cannot be stored: {describe(exc)}", row.body, row.meta)
