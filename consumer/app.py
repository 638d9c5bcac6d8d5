"""`chargeback consume`: wire settings, lake, checkpoint store, source and pipeline; run until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, NamedTuple

from azure.eventhub.aio import CheckpointStore
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential

from common.errors import ChargebackError
from common.exitcodes import ExitCode
from common.logs import get_logger
from common.redact import describe
from common.storage import StorageUnavailableError
from common.storage.location import BlobLocation, Location, open_location
from consumer.checkpoint_blob import open_blob_checkpoint_store
from consumer.checkpoint_file import FileCheckpointStore
from consumer.columnar import usage_tables
from consumer.eventhub_source import EventHubSource, namespace_of
from consumer.flush_state import FlushStateStore
from consumer.health import HealthServer
from consumer.lake_writer import USAGE_SOURCE, LakeWriter
from consumer.llm_log import SOURCE as LLM_LOG_SOURCE
from consumer.llm_log import LlmLogDecoder
from consumer.memory import arrow_pool, tune_allocators, tune_gc
from consumer.metrics import ConsumerMetrics, ConsumerStats, configure_exporter
from consumer.partition import PartitionDeps
from consumer.pipeline import Pipeline
from consumer.rotation import RotationPolicy
from consumer.settings import ConsumerSettings
from consumer.sources import Decoder
from schemas.reassembler import Reassembler, ReassemblerConfig

log = get_logger("consumer")


def open_checkpoint_store(location: Location) -> tuple[CheckpointStore, Any]:
    """The SDK's Blob store on a container, our file store on a local directory; and the credential to close."""
    if isinstance(location, BlobLocation):
        return open_blob_checkpoint_store(location)
    return FileCheckpointStore(location.root), None


async def open_storage(settings: ConsumerSettings) -> tuple[Location, Location]:
    """Lake and checkpoint locations, their credential probed (exit 5 in one line, never a native abort)."""

    def both() -> tuple[Location, Location]:
        connection = settings.storage_connection
        lake = open_location(settings.lake_url, connection_string=connection)
        return lake, open_location(settings.checkpoint_url, connection_string=connection)

    return await asyncio.to_thread(both)


START_ATTEMPTS = 4
"""Attempts at creating a Blob lake or checkpoint root at start-up (about 4 s of waits in all): a storage service
that drops one response (Azurite under load cut one short) is not an outage; a failure that lasts is exit 5 after
them. A local directory that cannot be created fails at once: retrying a file system's answer changes nothing."""


def _log_start_retry(location: Location, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    error = describe(exc, 300) if exc is not None else None
    log.warning("storage_start_retry", location=location.url, attempt=state.attempt_number, error=error)


async def _ensure(location: Location) -> None:
    if not isinstance(location, BlobLocation):
        await asyncio.to_thread(location.ensure_root)
        return
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(OSError),
        stop=stop_after_attempt(START_ATTEMPTS),
        wait=wait_exponential(multiplier=0.5, max=4),
        before_sleep=lambda state: _log_start_retry(location, state),
        reraise=True,
    ):
        with attempt:
            await asyncio.to_thread(location.ensure_root)


class HubRun(NamedTuple):
    """One source of the process: its hub, its figures and its partitions."""

    label: str
    """`usage`, or `llm_log` (APIM's LLM logs): in file names, flush-state keys, logs and metric labels."""
    stats: ConsumerStats
    source: EventHubSource
    pipeline: Pipeline


def _hub_run(
    label: str,
    settings: ConsumerSettings,
    *,
    store: CheckpointStore,
    checkpoints: Location,
    writer: LakeWriter,
    on_fatal: Callable[[BaseException], None],
) -> HubRun:
    """The same machinery for either hub: only the decoder differs (chunk envelopes, or diagnostic documents)."""
    stats = ConsumerStats()
    metrics = ConsumerMetrics(stats, source=label)
    source = EventHubSource(settings, store, stats)
    decoder: Decoder
    if label == LLM_LOG_SOURCE:
        decoder = LlmLogDecoder(on_skipped=metrics.record_skipped)
    else:
        decoder = Reassembler(
            ReassemblerConfig(
                ttl=timedelta(seconds=settings.record_ttl_seconds),
                max_pending_bytes=settings.max_pending_bytes,
                max_record_bytes=settings.max_record_bytes,
            )
        )
    pipeline = Pipeline(
        PartitionDeps(
            hub=source.name,
            decoder=decoder,
            writer=writer,
            states=FlushStateStore(
                checkpoints, namespace_of(settings), source.name, settings.consumer_group, source=label
            ),
            checkpoint=source.checkpoint,
            policy=RotationPolicy(settings.flush_max_rows, settings.flush_max_bytes, settings.flush_max_event_seconds),
            usage_converter=usage_tables,
            metrics=metrics,
            on_fatal=on_fatal,
            source=label,
        )
    )
    return HubRun(label, stats, source, pipeline)


async def run_consumer(settings: ConsumerSettings, *, until_idle: float | None = None) -> int:
    """Read the usage hub, and APIM's LLM-log hub when CHARGEBACK_LLM_LOG_* names one, in one process: each hub
    with its own checkpoints, flush state, figures and partitions; the lake writer and checkpoint store shared."""
    configure_exporter()
    malloc_tuned = tune_allocators()
    tune_gc()
    lake, checkpoints = await open_storage(settings)
    for variable, location in (("CHARGEBACK_LAKE_URL", lake), ("CHARGEBACK_CHECKPOINT_URL", checkpoints)):
        try:
            await _ensure(location)
        except OSError as exc:  # one line and exit 5 through the shell, like every start-up failure
            raise StorageUnavailableError(f"{variable} {location.url}: cannot be used: {describe(exc)}") from exc
    store, credential = open_checkpoint_store(checkpoints)
    stop = asyncio.Event()
    fatal: list[BaseException] = []

    def on_fatal(exc: BaseException) -> None:
        fatal.append(exc)
        stop.set()

    writer = LakeWriter(lake)
    hubs = [(USAGE_SOURCE, settings)]
    if settings.llm_log_enabled:
        hubs.append((LLM_LOG_SOURCE, settings.llm_log_settings()))
    runs = [
        _hub_run(label, hub, store=store, checkpoints=checkpoints, writer=writer, on_fatal=on_fatal)
        for label, hub in hubs
    ]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    health = HealthServer(
        settings.health_port,
        {run.label: run.stats for run in runs},
        lambda: all(run.source.running for run in runs) and not stop.is_set(),
    )
    if settings.health_port:
        await health.start()
    for run, (_, hub) in zip(runs, hubs, strict=True):
        log.info(
            "consumer_started",
            source=run.label,
            hub=run.source.name,
            consumer_group=hub.consumer_group,
            lake=lake.url,
            checkpoints=checkpoints.url,
            checkpoint_store=type(store).__name__,
            until_idle=until_idle,
            arrow_pool=arrow_pool(),
            malloc_tuned=malloc_tuned,
        )
    watcher = asyncio.create_task(_watch_idle(until_idle, settings, runs, stop)) if until_idle else None
    running = {asyncio.create_task(run.source.run(run.pipeline, stop)): run for run in runs}
    code = ExitCode.OK
    failure: ChargebackError | None = None
    try:
        await asyncio.wait({*running, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()  # one hub stopping (a signal, idle, or a failure) stops the process: the other drains too
        if not all(task.done() for task in running):
            log.info("consumer_stopping", deadline_seconds=settings.shutdown_deadline_seconds)
        _, late = await asyncio.wait(running, timeout=settings.shutdown_deadline_seconds)
        if late:
            log.error("shutdown_deadline_exceeded", deadline_seconds=settings.shutdown_deadline_seconds)
            for task in running:
                task.cancel()
            code = ExitCode.UNAVAILABLE
        for task, run in running.items():
            if not task.done() or task.cancelled():
                continue
            error = task.exception()
            if isinstance(error, ChargebackError):  # e.g. Event Hubs unreachable at start-up: one line from the shell
                log.error("source_failed", source=run.label, error=describe(error), exit_code=int(error.exit_code))
                if failure is None:
                    failure, code = error, error.exit_code
            elif error is not None:  # the source gave up
                log.error("source_failed", source=run.label, error=describe(error))
                if failure is None:
                    code = ExitCode.UNAVAILABLE
        if fatal:
            code = ExitCode.FAILURE
    finally:
        if watcher is not None:
            watcher.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await health.stop()
        with contextlib.suppress(Exception):
            await store.close()  # type: ignore[attr-defined]
        if hasattr(credential, "close"):  # DefaultAzureCredential (aio) holds sessions; key credentials do not
            await credential.close()
    for run in runs:
        log.info("consumer_stopped", source=run.label, exit_code=int(code), **run.stats.snapshot())
    if failure is not None:
        raise failure
    return code


def _idle(seconds: float, grace: float, run: HubRun, now: float) -> bool:
    stats, source, pipeline = run.stats, run.source, run.pipeline
    last = stats.last_event_monotonic or stats.started_monotonic
    owns_all = bool(source.partition_ids) and source.partition_ids <= set(pipeline.partitions)
    claimed = source.reachable.is_set() and (owns_all or now - stats.started_monotonic > grace)
    owned = pipeline.partitions
    caught_up = stats.caught_up(owned, idle={p for p, proc in owned.items() if proc.caught_up})
    return claimed and caught_up and now - last >= seconds and not pipeline.dirty


async def _watch_idle(seconds: float, settings: ConsumerSettings, runs: Sequence[HubRun], stop: asyncio.Event) -> None:
    """`--until-idle`: stop once every hub is caught up (no lag, nothing unflushed) and no event arrived on any for
    `seconds`.

    Caught up counts only the partitions this process owns, so it must first own them all: a partition still held
    by another owner (a consumer that was killed holds it until its ownership expires) is not ours to call idle.
    Only after the ownership expiry and a load-balancing round have passed are partitions it does not own taken to
    belong to a live consumer of the group, and left to it."""
    grace = settings.ownership_expiration_seconds + 2 * settings.load_balancing_interval_seconds + seconds
    while not stop.is_set():
        await asyncio.sleep(min(0.5, seconds / 4))
        now = time.monotonic()
        if all(_idle(seconds, grace, run, now) for run in runs):
            log.info("idle_exit", idle_seconds=seconds, sources=[run.label for run in runs])
            stop.set()
