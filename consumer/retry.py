"""Retrying storage calls: a storage outage pauses the partition (backpressure) instead of losing data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    wait_exponential,
)

from common.logs import get_logger
from common.redact import describe
from consumer.errors import ConsumerError

T = TypeVar("T")
log = get_logger("consumer.retry")


def _log_attempt(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "storage_retry",
        operation=getattr(state.fn, "__qualname__", "?") if state.fn else "?",
        attempt=state.attempt_number,
        error=describe(exc, 300) if exc else None,
    )


async def retry_forever(
    operation: Callable[[], T], *, max_wait: float = 10.0, on_failure: Callable[[], None] | None = None
) -> T:
    """Run a blocking storage operation in a thread until it succeeds; cancellation (shutdown) ends the wait."""
    return await retry_async_forever(lambda: asyncio.to_thread(operation), max_wait=max_wait, on_failure=on_failure)


async def retry_async_forever(
    operation: Callable[[], Awaitable[T]], *, max_wait: float = 10.0, on_failure: Callable[[], None] | None = None
) -> T:
    """Await `operation()` until it succeeds (typed consumer errors are not retried)."""

    def before_sleep(state: RetryCallState) -> None:
        _log_attempt(state)
        if on_failure is not None:
            on_failure()

    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(Exception) & retry_if_not_exception_type(ConsumerError),
        wait=wait_exponential(multiplier=0.2, max=max_wait),
        before_sleep=before_sleep,
        reraise=True,
    ):
        with attempt:
            return await operation()
    raise AssertionError("unreachable")  # pragma: no cover
