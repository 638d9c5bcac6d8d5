"""Fixtures and rules shared by every test tier. Each server is started by the tests themselves on a free port.

- Tier markers come from the directory: tests/unit -> `unit`, tests/integration -> `integration`, tests/e2e ->
  `e2e`, tests/reliability -> `reliability` (so `-m "not reliability"` works for a test that forgot its marker).
- `serial`: a test that must not share the machine with another heavy test (timing-sensitive fault injection).
  Under pytest-xdist (`make test`) every serial test runs on the same worker, one after another, started first so
  the other worker fills the time around them; without xdist the marker changes nothing.
- `--lake-backend local|blob|both` (default local): tests taking the `lake_backend` fixture run on those lakes.
- Hypothesis profile from HYPOTHESIS_PROFILE (tests/support/profiles.py): `fast` unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import profiles
from tests.support.azurite import Azurite

TIERS = ("unit", "integration", "e2e", "reliability")
TESTS = Path(__file__).resolve().parent
LAKE_BACKENDS = ("local", "blob")

profiles.load()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--lake-backend",
        choices=(*LAKE_BACKENDS, "both"),
        default="local",
        help="which lake the tests that take `lake_backend` run on (default local; nightly: both)",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"hypothesis profile: {profiles.active()}; lake backend: {config.getoption('--lake-backend')}"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "lake_backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--lake-backend")
        backends = LAKE_BACKENDS if chosen == "both" else (chosen,)
        metafunc.parametrize("lake_backend", backends, ids=[f"{b}-lake" for b in backends])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            tier = item.path.resolve().relative_to(TESTS).parts[0]
        except ValueError:
            continue
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
        if item.get_closest_marker("serial") is not None:
            item.add_marker(pytest.mark.xdist_group("serial"))
    # Serial tests first: under xdist their worker starts on them at once while the other takes everything else.
    items.sort(key=lambda item: item.get_closest_marker("serial") is None)


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


@pytest.fixture
def lake(lake_backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    """A lake and checkpoint location on the backend under test (`--lake-backend`); see tests/support/lakes.py."""
    from tests.support.lakes import blob_lake, local_lake

    if lake_backend == "blob":
        return blob_lake(request.getfixturevalue("azurite"))
    return local_lake(tmp_path)
