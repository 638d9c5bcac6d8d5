"""Test input for the consumer: usage records and bodies encoded with the reference codec, and a pipeline wired
to a real lake location and a real checkpoint store, fed directly (no Event Hubs)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from consumer.checkpoint_file import FileCheckpointStore
from consumer.columnar import usage_tables
from consumer.flush_state import FlushStateStore
from consumer.lake_writer import LakeWriter
from consumer.metrics import ConsumerMetrics, ConsumerStats
from consumer.partition import PartitionDeps
from consumer.pipeline import Pipeline
from consumer.rotation import RotationPolicy
from consumer.sources import Decoder, Position, SourceEvent
from schemas.codec import ChunkingParams, encode
from schemas.lake import open_location
from schemas.reassembler import Reassembler, ReassemblerConfig

T0 = datetime(2026, 11, 27, 9, 58, tzinfo=UTC)
HUB = "usage"
NS = "local.test"
CG = "$Default"


def usage_record(record_id: str, index: int, **changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "schema_version": 1,
        "record_id": record_id,
        "event_time": (T0 + timedelta(seconds=index)).isoformat(),
        "duration_ms": 100 + index,
        "status_code": 200,
        "operation": "chat.completions",
        "stream": index % 2 == 0,
        "deployment": "gpt-4o",
        "model": "gpt-4o-2024-08-06",
        "subscription_id": f"sub-{index % 3}",
        "tags": {"team": f"team-{index % 4}"},
        "prompt_tokens": 10 + index,
        "completion_tokens": 5 + index,
        "total_tokens": 15 + 2 * index,
        "usage_source": "reported",
    }
    record.update(changes)
    return record


def rid(index: int) -> str:
    return str(uuid.UUID(int=index + 1))


@dataclass
class Stream:
    """Event bodies with Event Hubs coordinates (offsets deliberately unlike sequence numbers)."""

    partition: str = "0"
    events: list[SourceEvent] = field(default_factory=list)

    def add(self, body: bytes, *, seconds: float | None = None) -> None:
        seq = len(self.events)
        moment = T0 + timedelta(seconds=seq if seconds is None else seconds)
        self.events.append(SourceEvent(body, seq, f"{seq * 1024 + 17}", moment))

    def add_usage(self, index: int, **changes: object) -> str:
        record_id = rid(index)
        for body in encode(
            record_id,
            "usage",
            json.dumps(usage_record(record_id, index, **changes)).encode(),
            emitted_at=T0 + timedelta(seconds=index),
        ):
            self.add(body)
        return record_id


@dataclass
class Harness:
    """A pipeline on a local lake and file checkpoint store; `crash()` drops it without flushing."""

    lake: Path
    checkpoints: Path
    policy: RotationPolicy = field(default_factory=lambda: RotationPolicy(max_rows=50))
    batch_size: int = 7
    """Events per `on_events` call, as the SDK delivers them."""
    config: ReassemblerConfig = field(default_factory=ReassemblerConfig)
    pipeline: Pipeline | None = None
    store: FileCheckpointStore | None = None
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    source: str = "usage"
    """The source name (`llm_log` with `decoder=LlmLogDecoder`): in file names and flush-state keys."""
    decoder: Callable[[ConsumerMetrics], Decoder] | None = None
    """Makes the decoder from the source's metrics (default: the reassembler with `config`)."""

    def build(self) -> Pipeline:
        self.store = FileCheckpointStore(self.checkpoints)
        store = self.store

        async def checkpoint(partition: str, position: Position) -> None:
            await store.update_checkpoint(
                {
                    "fully_qualified_namespace": NS,
                    "eventhub_name": HUB,
                    "consumer_group": CG,
                    "partition_id": partition,
                    "offset": position.offset,
                    "sequence_number": position.sequence_number,
                }
            )

        metrics = ConsumerMetrics(self.stats, source=self.source)
        self.pipeline = Pipeline(
            PartitionDeps(
                hub=HUB,
                decoder=self.decoder(metrics) if self.decoder else Reassembler(self.config),
                writer=LakeWriter(open_location(str(self.lake))),
                states=FlushStateStore(open_location(str(self.checkpoints)), NS, HUB, CG, source=self.source),
                checkpoint=checkpoint,
                policy=self.policy,
                usage_converter=usage_tables,
                metrics=metrics,
                source=self.source,
            )
        )
        return self.pipeline

    async def checkpoint(self, partition: str = "0") -> Position | None:
        assert self.store is not None
        for item in await self.store.list_checkpoints(NS, HUB, CG):
            if item["partition_id"] == partition:
                return Position(item["sequence_number"], item["offset"])
        return None

    async def run(self, stream: Stream, *, stop_after: int | None = None, flush: bool = True) -> None:
        """Open from the checkpoint, feed the stream from there (up to event `stop_after`), then close."""
        pipeline = self.build()
        start = await self.checkpoint(stream.partition)
        await pipeline.open_partition(stream.partition, start)
        begin = 0 if start is None else start.sequence_number + 1
        end = len(stream.events) if stop_after is None else stop_after
        events = stream.events[begin:end]
        for i in range(0, len(events), self.batch_size):
            await pipeline.on_events(stream.partition, events[i : i + self.batch_size])
        if flush:
            await pipeline.on_idle(stream.partition)
        await pipeline.close_partition(stream.partition, flush=flush)


def read(lake: Path, table: str) -> list[dict]:
    """Every row of a lake table, read with DuckDB (returned through Arrow: no pytz needed)."""
    files = sorted(lake.glob(f"{table}/**/*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    listing = ", ".join(f"'{f}'" for f in files)
    return con.sql(f"SELECT * FROM read_parquet([{listing}], hive_partitioning=true)").to_arrow_table().to_pylist()


def read_column(lake: Path, table: str, column: str) -> list:
    files = sorted(lake.glob(f"{table}/**/*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    listing = ", ".join(f"'{f}'" for f in files)
    query = f"SELECT {column} FROM read_parquet([{listing}], hive_partitioning=true)"
    return con.sql(query).to_arrow_table().column(0).to_pylist()


def params(chunk_bytes: int = 300, max_chunks: int = 8) -> ChunkingParams:
    return ChunkingParams(chunk_bytes=chunk_bytes, max_chunks=max_chunks)
