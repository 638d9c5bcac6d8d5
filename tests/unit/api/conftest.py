"""The read API over the hand-computed month (tests/unit/aggregator/handcomputed.py), in process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aggregator.aggregate import aggregate_days
from aggregator.lakeio import open_lake
from aggregator.settings import AggregatorSettings
from api.app import create_app
from api.auth import Authenticator
from api.lake import LakeReader
from api.settings import ApiSettings
from schemas.lake import LakeLocation, open_location
from tests.support.entra import LocalEntra, local_entra
from tests.unit.aggregator import handcomputed as hc
from tests.unit.aggregator.lake_builder import LakeBuilder
from tests.unit.aggregator.pricing_fixture import write_config


@dataclass
class ApiLake:
    root: Path
    location: LakeLocation
    settings: AggregatorSettings
    builder: LakeBuilder


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api_lake(tmp_path: Path) -> ApiLake:
    root = tmp_path / "lake"
    location = open_location(str(root))
    location.ensure_root()
    builder = LakeBuilder(location)
    extra = hc.build(builder)
    builder.usage([extra["late"]])
    settings = write_config(tmp_path / "config", str(root))
    aggregate_days(open_lake(str(root)), [hc.DAY_A, hc.DAY_B], settings)
    return ApiLake(root, location, settings, builder)


@pytest.fixture(scope="session")
def entra() -> Iterator[LocalEntra]:
    with local_entra() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(lake: ApiLake, api_settings: ApiSettings, clock: FakeClock) -> TestClient:
    reader = LakeReader(lake.location, lake.settings, refresh_seconds=api_settings.refresh_seconds, clock=clock)
    app = create_app(api_settings, reader, lake.location, Authenticator(api_settings))
    return TestClient(app)


@pytest.fixture
def client(api_lake: ApiLake, entra: LocalEntra, clock: FakeClock) -> TestClient:
    settings = ApiSettings(
        auth="entra",
        tenant_id="t",
        audience="api://chargeback-test",
        issuer=entra.issuer,
        jwks_url=entra.jwks_url,
        group_teams={"group-a": ["a"], "group-ab": ["a", "b"]},
    )
    return make_client(api_lake, settings, clock)
