"""`chargeback consume`: wire settings, lake, checkpoint store, source and pipeline; run until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import timedelta
from typing import Any

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
from consumer.lake_writer import LakeWriter
from consumer.memory import arrow_pool, tune_allocators, tune_gc
from consumer.metrics import ConsumerMetrics, ConsumerStats, configure_exporter
from consumer.partition import PartitionDeps
from consumer.pipeline import Pipeline
from consumer.rotation import RotationPolicy
from consumer.settings import ConsumerSettings
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


async def run_consumer(settings: ConsumerSettings, *, until_idle: float | None = None) -> int:
    configure_exporter()
    malloc_tuned = tune_allocators()
    tune_gc()
    stats = ConsumerStats()
    metrics = ConsumerMetrics(stats)
    lake, checkpoints = await open_storage(settings)
    for variable, location in (("CHARGEBACK_LAKE_URL", lake), ("CHARGEBACK_CHECKPOINT_URL", checkpoints)):
        try:
            await _ensure(location)
        except OSError as exc:  # one line and exit 5 through the shell, like every start-up failure
            raise StorageUnavailableError(f"{variable} {location.url}: cannot be used: {describe(exc)}") from exc
    store, credential = open_checkpoint_store(checkpoints)
    source = EventHubSource(settings, store, stats)
    decoder = Reassembler(
        ReassemblerConfig(
            ttl=timedelta(seconds=settings.record_ttl_seconds),
            max_pending_bytes=settings.max_pending_bytes,
            max_record_bytes=settings.max_record_bytes,
        )
    )
    stop = asyncio.Event()
    fatal: list[BaseException] = []

    def on_fatal(exc: BaseException) -> None:
        fatal.append(exc)
        stop.set()

    pipeline = Pipeline(
        PartitionDeps(
            hub=source.name,
            decoder=decoder,
            writer=LakeWriter(lake),
            states=FlushStateStore(checkpoints, namespace_of(settings), source.name, settings.consumer_group),
            checkpoint=source.checkpoint,
            policy=RotationPolicy(settings.flush_max_rows, settings.flush_max_bytes, settings.flush_max_event_seconds),
            usage_converter=usage_tables,
            metrics=metrics,
            on_fatal=on_fatal,
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    health = HealthServer(settings.health_port, stats, lambda: source.running and not stop.is_set())
    if settings.health_port:
        await health.start()
    log.info(
        "consumer_started",
        hub=source.name,
        consumer_group=settings.consumer_group,
        lake=lake.url,
        checkpoints=checkpoints.url,
        checkpoint_store=type(store).__name__,
        until_idle=until_idle,
        arrow_pool=arrow_pool(),
        malloc_tuned=malloc_tuned,
    )
    watcher = (
        asyncio.create_task(_watch_idle(until_idle, settings, stats, source, pipeline, stop)) if until_idle else None
    )
    running = asyncio.create_task(source.run(pipeline, stop))
    code = ExitCode.OK
    failure: ChargebackError | None = None
    try:
        await asyncio.wait({running, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            log.info("consumer_stopping", deadline_seconds=settings.shutdown_deadline_seconds)
        try:
            await asyncio.wait_for(asyncio.shield(running), timeout=settings.shutdown_deadline_seconds)
        except TimeoutError:
            log.error("shutdown_deadline_exceeded", deadline_seconds=settings.shutdown_deadline_seconds)
            running.cancel()
            code = ExitCode.UNAVAILABLE
        except ChargebackError as exc:  # e.g. Event Hubs unreachable at start-up: one line from the shell
            log.error("source_failed", error=describe(exc), exit_code=int(exc.exit_code))
            failure = exc
            code = exc.exit_code
        except Exception as exc:  # the source gave up
            log.error("source_failed", error=describe(exc))
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
    log.info("consumer_stopped", exit_code=int(code), **stats.snapshot())
    if failure is not None:
        raise failure
    return code


async def _watch_idle(
    seconds: float,
    settings: ConsumerSettings,
    stats: ConsumerStats,
    source: EventHubSource,
    pipeline: Pipeline,
    stop: asyncio.Event,
) -> None:
    """`--until-idle`: stop once caught up (no lag, nothing unflushed) and no event arrived for `seconds`.

    Caught up counts only the partitions this process owns, so it must first own them all: a partition still held
    by another owner (a consumer that was killed holds it until its ownership expires) is not ours to call idle.
    Only after the ownership expiry and a load-balancing round have passed are partitions it does not own taken to
    belong to a live consumer of the group, and left to it."""
    grace = settings.ownership_expiration_seconds + 2 * settings.load_balancing_interval_seconds + seconds
    while not stop.is_set():
        await asyncio.sleep(min(0.5, seconds / 4))
        now = time.monotonic()
        last = stats.last_event_monotonic or stats.started_monotonic
        owns_all = bool(source.partition_ids) and source.partition_ids <= set(pipeline.partitions)
        claimed = source.reachable.is_set() and (owns_all or now - stats.started_monotonic > grace)
        owned = pipeline.partitions
        caught_up = stats.caught_up(owned, idle={p for p, proc in owned.items() if proc.caught_up})
        if claimed and caught_up and now - last >= seconds and not pipeline.dirty:
            log.info("idle_exit", idle_seconds=seconds)
            stop.set()
