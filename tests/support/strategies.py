"""Hypothesis strategies for payloads, chunking parameters and stream coordinates."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from schemas.codec import ChunkingParams
from schemas.reassembler import EventMeta

BASE_TIME = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
MAX_CHUNKS_IN_TEST = 300


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """0 bytes to several MB; binary, ASCII and non-ASCII text; mostly small, sometimes large."""
    # One example in twelve is large (up to 4 MiB), so 1,000 examples still cover megabyte payloads often.
    kind = draw(st.sampled_from(["binary"] * 5 + ["text"] * 5 + ["large-binary", "large-text", "empty"]))
    if kind == "empty":
        return b""
    if kind == "binary":
        return draw(st.binary(max_size=4096))
    if kind == "text":
        return draw(st.text(max_size=2048)).encode("utf-8")
    size = draw(st.integers(min_value=4097, max_value=4 * 1024 * 1024))
    rng = random.Random(draw(st.integers(0, 2**32)))
    if kind == "large-binary":
        return rng.randbytes(size)
    alphabet = 'aé€😀 {}":,\n\\ж中'
    return "".join(rng.choices(alphabet, k=size // 2)).encode("utf-8")


@st.composite
def chunking_for(draw: st.DrawFn, size: int, *, allow_truncation: bool = False) -> ChunkingParams:
    """Any legal chunk size that keeps the chunk count testable; no truncation unless asked."""
    chunks = draw(st.integers(min_value=1, max_value=MAX_CHUNKS_IN_TEST))
    chunk_bytes = min(149_400, max(3, -(-size // chunks // 3) * 3 or 3))
    needed = max(1, -(-size // chunk_bytes))
    if allow_truncation:
        return ChunkingParams(chunk_bytes, draw(st.integers(min_value=1, max_value=needed)))
    return ChunkingParams(chunk_bytes, needed + draw(st.integers(min_value=0, max_value=3)))


def metas(count: int, *, partition: str = "0", start: int = 100, key: str | None = None) -> list[EventMeta]:
    """Stream coordinates for `count` events: offsets deliberately unlike sequence numbers."""
    return [
        EventMeta(partition, start + i, str(7919 * (start + i)), BASE_TIME + timedelta(milliseconds=i), key)
        for i in range(count)
    ]
