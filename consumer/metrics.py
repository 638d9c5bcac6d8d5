"""Operational figures: OpenTelemetry instruments (exported to Azure Monitor when configured) and a snapshot
of the same figures for `/readyz` and tests."""

from __future__ import annotations

import os
import time
import weakref
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from common.logs import get_logger

log = get_logger("consumer.metrics")


@dataclass
class ConsumerStats:
    """Process-wide figures, updated by the pipeline and read by health, metrics and `--until-idle`."""

    started_monotonic: float = field(default_factory=time.monotonic)
    last_event_monotonic: float | None = None
    events: int = 0
    records_written: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    flushes: int = 0
    storage_failures: int = 0
    storage_ok: bool = True
    processed_sequence: dict[str, int] = field(default_factory=dict)
    last_enqueued_sequence: dict[str, int] = field(default_factory=dict)
    pending_bytes: Callable[[], int] = lambda: 0

    def lag(self) -> dict[str, int]:
        """Per owned partition whose last enqueued sequence number is known: how many events are not processed
        yet. A partition is owned from its opening (processed = its checkpoint, or -1 when it has none) to its
        closing; a closed partition drops out, so a partition taken over by another consumer leaves no stale lag."""
        processed = self.processed_sequence
        return {p: max(0, last - processed[p]) for p, last in self.last_enqueued_sequence.items() if p in processed}

    def caught_up(self, owned: Collection[str], idle: Collection[str] = ()) -> bool:
        """Every owned partition's position is known and its last enqueued event is processed. A partition still
        opening (its flush state is being read, which on Blob Storage under load takes seconds) has no position yet
        and is not caught up. A partition whose last enqueued sequence number is not known (not polled yet, or the
        poll fails) is caught up only if it is in `idle` (the source found nothing more to deliver for it): its lag
        is unknown, not zero."""
        processed, last = self.processed_sequence, self.last_enqueued_sequence
        return all(p in processed and (processed[p] >= last[p] if p in last else p in idle) for p in owned)

    def snapshot(self) -> dict[str, object]:
        return {
            "events": self.events,
            "records_written": dict(self.records_written),
            "dead_letters": dict(self.dead_letters),
            "skipped": dict(self.skipped),
            "flushes": self.flushes,
            "storage_ok": self.storage_ok,
            "pending_bytes": self.pending_bytes(),
            "lag": self.lag(),
        }


class _Instruments:
    """The instruments of one meter provider, shared by every source of the process: OpenTelemetry hands back the
    first instrument of a name when it is created again (and drops the second gauge's callback), so the sources
    register with one set and the gauges observe each of them, labelled by source."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.sources: weakref.WeakSet[ConsumerMetrics] = weakref.WeakSet()
        self.events = meter.create_counter("chargeback.consumer.events", unit="{event}", description="events read")
        self.records = meter.create_counter(
            "chargeback.consumer.records_written", unit="{row}", description="rows written to the lake, by table"
        )
        self.dead = meter.create_counter(
            "chargeback.consumer.dead_letters", unit="{row}", description="dead-letter rows written, by reason"
        )
        self.skipped = meter.create_counter(
            "chargeback.consumer.skipped",
            unit="{record}",
            description="records read and deliberately not stored (LLM-log probes, other categories), by reason",
        )
        self.flush_latency = meter.create_histogram(
            "chargeback.consumer.flush_latency", unit="s", description="time to write a batch's files and state"
        )
        meter.create_observable_gauge(
            "chargeback.consumer.pending_bytes", [self._observe_pending], unit="By", description="reassembly bytes"
        )
        meter.create_observable_gauge(
            "chargeback.consumer.partition_lag",
            [self._observe_lag],
            unit="{event}",
            description="last enqueued minus processed sequence number",
        )

    def _observe_pending(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(m.stats.pending_bytes(), {"source": m.source}) for m in list(self.sources)]

    def _observe_lag(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(lag, {"source": m.source, "partition": p})
            for m in list(self.sources)
            for p, lag in m.stats.lag().items()
        ]


_INSTRUMENTS: dict[int, tuple[metrics.MeterProvider, _Instruments]] = {}


def _instruments(provider: metrics.MeterProvider) -> _Instruments:
    found = _INSTRUMENTS.get(id(provider))
    if found is None or found[0] is not provider:
        found = (provider, _Instruments(provider.get_meter("chargeback.consumer")))
        _INSTRUMENTS[id(provider)] = found
    return found[1]


class ConsumerMetrics:
    """One source's figures: `record_*` methods keep its `stats` and the process's instruments in step; every
    measurement carries the `source` label (`usage`, or `llm_log` for APIM's LLM logs)."""

    def __init__(
        self, stats: ConsumerStats, provider: metrics.MeterProvider | None = None, *, source: str = "usage"
    ) -> None:
        self.stats = stats
        self.source = source
        self._labels = {"source": source}
        self._instruments = _instruments(provider or metrics.get_meter_provider())
        self._instruments.sources.add(self)

    def record_events(self, partition: str, count: int, last_sequence: int) -> None:
        self.stats.events += count
        self.stats.last_event_monotonic = time.monotonic()
        self.stats.processed_sequence[partition] = last_sequence
        self._instruments.events.add(count, {**self._labels, "partition": partition})

    def record_position(self, partition: str, sequence_number: int) -> None:
        """A partition opened at `sequence_number` (its checkpoint; -1: from the start)."""
        self.stats.processed_sequence[partition] = sequence_number

    def forget_partition(self, partition: str) -> None:
        """A partition closed (shutdown or ownership lost): its lag is no longer ours to report."""
        self.stats.processed_sequence.pop(partition, None)
        self.stats.last_enqueued_sequence.pop(partition, None)

    def record_flush(self, rows: dict[str, int], dead_letters: Counter[str], seconds: float) -> None:
        self.stats.flushes += 1
        self.stats.storage_ok = True
        for table, count in rows.items():
            if count:
                self.stats.records_written[table] += count
                self._instruments.records.add(count, {**self._labels, "table": table})
        for reason, count in dead_letters.items():
            self.stats.dead_letters[reason] += count
            self._instruments.dead.add(count, {**self._labels, "reason": reason})
        self._instruments.flush_latency.record(seconds, self._labels)

    def record_skipped(self, reasons: Counter[str]) -> None:
        """Records read and deliberately not stored (the LLM log's connectivity probes and other categories)."""
        for reason, count in reasons.items():
            if count:
                self.stats.skipped[reason] += count
                self._instruments.skipped.add(count, {**self._labels, "reason": reason})

    def record_storage_failure(self) -> None:
        self.stats.storage_failures += 1
        self.stats.storage_ok = False


def configure_exporter() -> MeterProvider | None:
    """Azure Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set; otherwise metrics stay in process."""
    connection = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip()
    if not connection:
        return None
    from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter

    exporter = AzureMonitorMetricExporter(connection_string=connection)
    provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)])
    metrics.set_meter_provider(provider)
    log.info("metrics_exporter", exporter="azure_monitor")
    return provider
