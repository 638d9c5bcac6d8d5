"""The reference encoder's parameter and input rules, one per test (issue 20)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas.codec import ChunkingParams, encode, format_emitted_at
from schemas.errors import EncodeError
from schemas.limits import MAX_CHUNK_BYTES


@pytest.mark.parametrize("chunk_bytes", [0, -3, 4, 299, MAX_CHUNK_BYTES + 3])
def test_chunk_bytes_must_be_a_positive_multiple_of_3_up_to_the_limit(chunk_bytes: int):
    """A chunk is whole base64 quanta (3 bytes -> 4 characters), at least one, and small enough for one message."""
    with pytest.raises(EncodeError, match=f"positive multiple of 3 up to {MAX_CHUNK_BYTES}, got {chunk_bytes}"):
        ChunkingParams(chunk_bytes=chunk_bytes)


@pytest.mark.parametrize("chunk_bytes", [3, 300, MAX_CHUNK_BYTES])
def test_chunk_bytes_at_the_limits_are_accepted(chunk_bytes: int):
    """3 and MAX_CHUNK_BYTES themselves are valid chunk sizes."""
    assert ChunkingParams(chunk_bytes=chunk_bytes, max_chunks=1).max_record_bytes == chunk_bytes


def test_max_chunks_must_be_at_least_one():
    """A record needs at least one chunk."""
    with pytest.raises(EncodeError, match="max_chunks must be >= 1, got 0"):
        ChunkingParams(max_chunks=0)
    assert ChunkingParams(chunk_bytes=3, max_chunks=1).max_chunks == 1


def test_emitted_at_must_be_timezone_aware():
    """A naive time has no defined instant: refused, never guessed as local or UTC."""
    with pytest.raises(EncodeError, match="emitted_at must be timezone-aware"):
        format_emitted_at(datetime(2026, 1, 1))


def test_emitted_at_is_written_in_utc_whatever_the_machines_time_zone(monkeypatch):
    """The envelope's emitted_at is UTC in .NET's round-trip format (7 fractional digits, `Z`), converted from the
    given offset, independent of the process's local time zone."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        moment = datetime(2026, 1, 1, 1, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
        assert format_emitted_at(moment) == "2026-01-01T00:00:00.1234560Z"
        assert format_emitted_at(moment.astimezone(UTC)) == "2026-01-01T00:00:00.1234560Z"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_bad_record_id_is_refused_quoting_at_most_140_characters_of_it():
    """A record id must match the envelope's pattern; the error quotes at most 140 characters of the hostile input."""
    with pytest.raises(EncodeError) as caught:
        encode("x" * 200 + "/", "usage", b"{}", emitted_at=datetime(2026, 1, 1, tzinfo=UTC))
    message = str(caught.value)
    assert repr("x" * 140) in message
    assert "does not match" in message
