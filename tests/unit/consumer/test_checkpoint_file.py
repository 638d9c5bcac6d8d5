"""The file checkpoint store honours the SDK's contract, including compare-and-swap claims across processes."""

from __future__ import annotations

import asyncio
import multiprocessing

from consumer.checkpoint_file import FileCheckpointStore

NS, HUB, CG = "ns.example", "usage", "$Default"


def _ownership(partition: str, owner: str, etag: str | None = None) -> dict:
    return {
        "fully_qualified_namespace": NS,
        "eventhub_name": HUB,
        "consumer_group": CG,
        "partition_id": partition,
        "owner_id": owner,
        "etag": etag,
    }


async def test_claims_are_compare_and_swap(tmp_path):
    store = FileCheckpointStore(tmp_path)
    [mine] = await store.claim_ownership([_ownership("0", "a")])
    assert mine["etag"] and mine["last_modified_time"] > 0
    assert await store.claim_ownership([_ownership("0", "b")]) == []  # stale (no etag) claim loses
    [renewed] = await store.claim_ownership([_ownership("0", "a", mine["etag"])])
    assert await store.claim_ownership([_ownership("0", "b", mine["etag"])]) == []  # etag moved on
    [listed] = await store.list_ownership(NS, HUB, CG)
    assert listed["owner_id"] == "a" and listed["etag"] == renewed["etag"]


async def test_checkpoints_round_trip(tmp_path):
    store = FileCheckpointStore(tmp_path)
    assert await store.list_checkpoints(NS, HUB, CG) == []
    for seq in (5, 9):
        await store.update_checkpoint({**_ownership("3", "a"), "offset": f"{seq * 100}", "sequence_number": seq})
    [checkpoint] = await store.list_checkpoints(NS, HUB, CG)
    assert (checkpoint["partition_id"], checkpoint["offset"], checkpoint["sequence_number"]) == ("3", "900", 9)


def _race(root: str, owner: str, etag: str | None, results) -> None:
    claimed = asyncio.run(FileCheckpointStore(root).claim_ownership([_ownership("1", owner, etag)]))
    results.put((owner, len(list(claimed))))


def test_only_one_of_many_processes_wins_a_claim(tmp_path):
    results = multiprocessing.get_context("spawn").Queue()
    procs = [
        multiprocessing.get_context("spawn").Process(target=_race, args=(str(tmp_path), f"p{i}", None, results))
        for i in range(6)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    outcomes = [results.get(timeout=5) for _ in procs]
    assert sum(won for _, won in outcomes) == 1
    [owner] = [o for o, won in outcomes if won]
    [listed] = asyncio.run(FileCheckpointStore(tmp_path).list_ownership(NS, HUB, CG))
    assert listed["owner_id"] == owner
