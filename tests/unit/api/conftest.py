"""The read API over the hand-computed month (tests/unit/aggregator/handcomputed.py), in process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Authenticator
from api.lake import LakeReader
from api.settings import ApiSettings
from tests.support.entra import LocalEntra, local_entra
from tests.support.handcomputed import AggregatedLake, aggregated_lake


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api_lake(tmp_path: Path) -> AggregatedLake:
    return aggregated_lake(tmp_path)


@pytest.fixture(scope="session")
def entra() -> Iterator[LocalEntra]:
    with local_entra() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(lake: AggregatedLake, api_settings: ApiSettings, clock: FakeClock) -> TestClient:
    reader = LakeReader(lake.location, lake.settings, refresh_seconds=api_settings.refresh_seconds, clock=clock)
    app = create_app(api_settings, reader, lake.location, Authenticator(api_settings))
    return TestClient(app)


@pytest.fixture
def client(api_lake: AggregatedLake, entra: LocalEntra, clock: FakeClock) -> TestClient:
    settings = ApiSettings(
        auth="entra",
        tenant_id="t",
        audience="api://chargeback-test",
        issuer=entra.issuer,
        jwks_url=entra.jwks_url,
        group_teams={"group-a": ["a"], "group-ab": ["a", "b"]},
    )
    return make_client(api_lake, settings, clock)
