"""A local lake holding the hand-computed month, aggregated, plus a few payloads and dead letters."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import handcomputed as hc
from tests.support.handcomputed import AggregatedLake
from tests.support.handcomputed import aggregated_lake as hand_computed_lake
from tests.support.lake_builder import dead_letter_row, payload_row


@pytest.fixture
def aggregated_lake(tmp_path: Path) -> AggregatedLake:
    lake = hand_computed_lake(tmp_path)
    lake.builder.payloads([payload_row("rec-1", hc.A)])
    lake.builder.dead_letters([dead_letter_row(hc.A), dead_letter_row(hc.B, "checksum_mismatch")])
    return lake
