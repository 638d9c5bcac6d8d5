"""Wire codec throughput on one core: encode and reassemble 1 KB usage records and 5 MB payloads.

Baselines in the same run: `json.dumps` of the record (what any producer pays) for encoding, and `json.loads`
of each envelope (the floor of any decoder) for reassembly.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

from bench.figures import Figure
from schemas.codec import ChunkingParams, encode
from schemas.reassembler import CompletedRecord, EventMeta, Reassembler, ReassemblerConfig

EMITTED = "2026-11-27T10:00:00.0000000Z"


def usage_record(i: int) -> dict:
    return {
        "schema_version": 1,
        "record_id": f"{i:08x}-8d1f-4a3b-9a57-0c2a0f7d9b11",
        "event_time": "2026-11-27T10:00:00.123+00:00",
        "duration_ms": 812,
        "status_code": 200,
        "operation": "chat.completions",
        "stream": False,
        "api_version": "2024-10-21",
        "deployment": "gpt-4o-prod",
        "model": "gpt-4o-2024-08-06",
        "region": "Sweden Central",
        "backend_id": "aoai-sweden",
        "gateway_id": "managed",
        "service_name": "apim-contoso",
        "subscription_id": "sub-search-team",
        "subscription_name": "Search team",
        "product_id": "ai-standard",
        "api_id": "azure-openai",
        "operation_id": "ChatCompletions_Create",
        "user_id": "user-42",
        "client_ip": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "tags": {"team": "search", "cost-center": "cc-1234", "project": "ranker"},
        "prompt_tokens": 1520,
        "completion_tokens": 310,
        "total_tokens": 1830,
        "cached_tokens": 1024,
        "reasoning_tokens": 0,
        "usage_source": "reported",
        "error_code": None,
        "padding": "x" * 80,
    }


def _rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(quick: bool = False) -> list[Figure]:
    n = 20_000 if quick else 100_000
    records = [usage_record(i) for i in range(n)]
    payloads = [json.dumps(r).encode() for r in records]
    size = sum(map(len, payloads)) / n

    t_dumps = _time(lambda: [json.dumps(r).encode() for r in records])
    bodies: list[bytes] = []
    t_encode = _time(
        lambda: bodies.extend(
            encode(r["record_id"], "usage", p, emitted_at=EMITTED)[0] for r, p in zip(records, payloads, strict=True)
        )
    )
    base = datetime(2026, 11, 27, tzinfo=UTC)
    metas = [EventMeta("0", i, str(i * 11), base + timedelta(microseconds=i)) for i in range(n)]
    t_loads = _time(lambda: [json.loads(b) for b in bodies])
    reassembler = Reassembler()
    completed: list = []
    t_reassemble = _time(lambda: [completed.extend(reassembler.feed(b, m)) for b, m in zip(bodies, metas, strict=True)])
    assert len(completed) == n and all(isinstance(c, CompletedRecord) for c in completed)
    batched = Reassembler()
    delivered: list = []

    def reassemble_batched() -> None:
        for i in range(0, n, 300):  # per delivery of 300 events, as the consumer feeds it
            for out in batched.feed_many(bodies[i : i + 300], metas[i : i + 300]):
                delivered.extend(out)

    t_batched = _time(reassemble_batched)
    assert [c.payload for c in delivered] == [c.payload for c in completed]

    big = random.Random(7).randbytes(5 * 1024 * 1024)
    rounds = 4 if quick else 10
    big_bodies: list[list[bytes]] = []
    t_big_encode = _time(
        lambda: big_bodies.extend(
            encode(f"big-{i}", "response_body", big, emitted_at=EMITTED, params=ChunkingParams(max_chunks=40))
            for i in range(rounds)
        )
    )
    config = ReassemblerConfig(max_record_bytes=10 * 1024 * 1024)
    done: list = []

    def reassemble_big() -> None:
        r = Reassembler(config)
        for i, chunked in enumerate(big_bodies):
            for j, body in enumerate(chunked):
                done.extend(r.feed(body, EventMeta("0", i * 100 + j, "0", base)))

    t_big_reassemble = _time(reassemble_big)
    assert len(done) == rounds and all(d.payload == big for d in done)
    mb = rounds * len(big) / 1e6
    note = f"{size:.0f}-byte records, {n:,} of them, one core"
    return [
        Figure(
            "encode 1 KB usage records",
            _rate(n, t_encode),
            "records/s",
            "json.dumps of the record",
            _rate(n, t_dumps),
            notes=note,
        ),
        Figure(
            "reassemble 1 KB usage records",
            _rate(n, t_reassemble),
            "records/s",
            "json.loads of the envelope",
            _rate(n, t_loads),
            notes=note + "; parse, base64, SHA-256, dedup memory",
        ),
        Figure(
            "reassemble 1 KB usage records, per delivery (feed_many)",
            _rate(n, t_batched),
            "records/s",
            "json.loads of the envelope",
            _rate(n, t_loads),
            notes=note + "; 300 events a call, canonical single chunks inlined",
        ),
        Figure("encode 5 MB payloads", mb / t_big_encode, "MB/s", notes=f"{rounds} payloads, 36 chunks each"),
        Figure("reassemble 5 MB payloads", mb / t_big_reassemble, "MB/s", notes="chunks held, verified, joined"),
    ]
