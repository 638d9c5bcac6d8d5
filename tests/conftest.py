"""Fixtures shared by every test tier. Each server is started by the tests themselves on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.azurite import Azurite


@pytest.fixture
def azurite() -> Iterator[Azurite]:
    """A fresh Azurite per test: nothing leaks between tests."""
    server = Azurite().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def localhub():
    """A fresh local Event Hubs server (hub `usage`, 4 partitions) on a free port, on a background thread."""
    from tests.support.localhub import running_localhub

    with running_localhub(hubs={"usage": 4}) as hub:
        yield hub
