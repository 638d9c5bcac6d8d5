"""`--until-idle` calls a consumer idle only when it owns every partition (or the owners' expiry has passed)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import SimpleNamespace

from consumer.app import HubRun, _watch_idle
from consumer.metrics import ConsumerStats


def _parts(owned: set[str]) -> SimpleNamespace:
    return SimpleNamespace(partitions={p: SimpleNamespace(caught_up=True) for p in owned}, dirty=False)


def _source(partitions: set[str]) -> SimpleNamespace:
    reachable = asyncio.Event()
    reachable.set()
    started = asyncio.Event()
    started.set()
    return SimpleNamespace(reachable=reachable, started=started, partition_ids=frozenset(partitions))


async def _watch(owned: set[str], *, expiry: float, run_for: float, opening: frozenset[str] = frozenset()) -> bool:
    settings = SimpleNamespace(ownership_expiration_seconds=expiry, load_balancing_interval_seconds=0.1)
    stats = ConsumerStats()
    stats.started_monotonic = time.monotonic()
    for p in owned - opening:
        stats.processed_sequence[p] = 5
        stats.last_enqueued_sequence[p] = 5
    stop = asyncio.Event()
    run = HubRun("usage", stats, _source({"0", "1", "2", "3"}), _parts(owned))
    task = asyncio.create_task(_watch_idle(0.2, settings, [run], stop))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), run_for)
    task.cancel()
    return stop.is_set()


async def test_partitions_held_by_a_killed_owner_are_not_idle():
    """The bug the restart scenario found under load: a killed consumer still holds three partitions until its
    ownership expires; the new one owned a single caught-up partition and exited "idle" with a backlog left."""
    assert not await _watch({"0"}, expiry=30.0, run_for=1.5)


async def test_owning_every_partition_caught_up_is_idle():
    assert await _watch({"0", "1", "2", "3"}, expiry=30.0, run_for=1.5)


async def test_after_the_ownership_expiry_the_rest_belongs_to_live_consumers():
    assert await _watch({"0"}, expiry=0.3, run_for=3.0)


async def test_a_partition_still_opening_is_not_idle():
    """The Blob restart scenario's loss under load: the last consumer claimed the killed one's partitions after
    their ownership expired, long after its own partitions went quiet; while it was still reading their flush
    state from Blob Storage (no position known yet), it exited "idle" and left their backlog unread."""
    assert not await _watch({"0", "1", "2", "3"}, expiry=30.0, run_for=1.5, opening=frozenset({"2", "3"}))
