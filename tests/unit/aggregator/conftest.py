"""A local lake holding the hand-computed month, aggregated, plus a few payloads and dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from aggregator.aggregate import aggregate_days
from aggregator.lakeio import open_lake
from aggregator.settings import AggregatorSettings
from schemas.lake import LakeLocation, open_location
from tests.unit.aggregator import handcomputed as hc
from tests.unit.aggregator.lake_builder import LakeBuilder, dead_letter_row, payload_row
from tests.unit.aggregator.pricing_fixture import env_for, write_config


@dataclass
class AggregatedLake:
    root: Path
    location: LakeLocation
    settings: AggregatorSettings
    env: dict[str, str]
    builder: LakeBuilder


@pytest.fixture
def aggregated_lake(tmp_path: Path) -> AggregatedLake:
    root = tmp_path / "lake"
    location = open_location(str(root))
    location.ensure_root()
    builder = LakeBuilder(location)
    extra = hc.build(builder)
    builder.usage([extra["late"]])
    builder.payloads([payload_row("rec-1", hc.A)])
    builder.dead_letters([dead_letter_row(hc.A), dead_letter_row(hc.B, "checksum_mismatch")])
    settings = write_config(tmp_path / "config", str(root))
    aggregate_days(open_lake(str(root)), [hc.DAY_A, hc.DAY_B], settings)
    return AggregatedLake(root, location, settings, env_for(settings), builder)
