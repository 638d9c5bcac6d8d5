"""Start-up against storage: a dropped response is retried; a refusal that lasts is still exit 5 (one line)."""

from __future__ import annotations

import pytest

from common.storage.location import BlobLocation
from consumer.app import START_ATTEMPTS, _ensure


class Flaky(BlobLocation):
    url = "http://127.0.0.1:1/devstoreaccount1/checkpoints"

    def __init__(self, failures: int) -> None:  # no storage behind it: only `ensure_root` is called
        self.failures = failures
        self.calls = 0

    def ensure_root(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError("Connection broken: IncompleteRead(236 bytes read, 18 more expected)")


async def test_a_response_cut_short_at_start_up_is_retried():
    """Found under load: Azurite cut one response short and the deployed consumer exited 5 at start-up."""
    location = Flaky(failures=2)
    await _ensure(location)
    assert location.calls == 3


async def test_a_lasting_failure_gives_up_after_the_attempts():
    location = Flaky(failures=100)
    with pytest.raises(OSError, match="IncompleteRead"):
        await _ensure(location)
    assert location.calls == START_ATTEMPTS


async def test_a_local_directory_that_cannot_be_created_fails_at_once(tmp_path):
    from common.storage.location import open_location

    (tmp_path / "file").write_text("")
    location = open_location(str(tmp_path / "file" / "lake"))
    with pytest.raises(OSError):
        await _ensure(location)
