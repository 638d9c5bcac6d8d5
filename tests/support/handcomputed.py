"""The hand-computed month: every figure below was worked out on paper from the test price sheet, not by the code.

Day A = 2026-11-10 (old gpt-4.1 price 2.00 / 0.50 / 8.00 per 1M), day B = 2026-11-20 (new price 1.80 / 0.45 / 7.20).

| # | day | team | deployment | tokens (prompt/cached/completion/reasoning) | cost |
|---|---|---|---|---|---|
| 1 | A | a | gpt-4.1 global | 1M / 400k / 250k / 0 | 1.20 + 0.20 + 2.00 = 3.40 (600k x 2, 400k x .5, 250k x 8) |
| 1'| A | a | duplicate of #1 in another file (redelivery) | ignored | 0 |
| 2 | A | b | o4-mini (global) | 300,000 / 0 / 500,000 / 400,000 | 0.33 + 2.20 = 2.53 (reasoning part of output: 1.76) |
| 3 | A | a | gpt-4.1-batch | 2,000,000 / 0 / 1,000,000 / 0 | 0.001 / 0.004 per 1K = 1.00 / 4.00 per 1M: 6.00 |
| 4 | A | b | gpt-4.1 | 429 error, no tokens | 0, counted as failed |
| 5 | A | a | gpt-4.1-ptu | 3,000,000 / 0 / 1,000,000 | PTU: 10 x 2.00 x 24 = 480.00/day; 4M of 5M tokens = 384.00 |
| 6 | A | b | gpt-4.1-ptu | 800,000 / 0 / 200,000 | 1M of 5M tokens = 96.00 |
| 7 | A | c | mystery (model without a price) | 1,000 / 0 / 10 | unpriced: no_price |
| 8 | A | c | rogue (deployment not in the map) | 500 / 0 / 50 | unpriced: unknown_deployment |
| 9 | B | a | gpt-4.1 | 1,000,000 / 400,000 / 250,000 / 0 | 1.08 + 0.18 + 1.80 = 3.06 |
| 10| B | b | gpt-4.1, arrives late (after the first run of day B) | 100,000 / 0 / 50,000 | 0.18 + 0.36 = 0.54 |
| - | B | - | gpt-4.1-ptu, no traffic | - | 480.00 idle, kept unallocated |

Per team and day: A/a = 3.40 + 6.00 + 384.00 = 393.40; A/b = 2.53 + 96.00 = 98.53; B/a = 3.06; B/b = 0.54;
B/unallocated PTU = 480.00. Month = 393.40 + 98.53 + 3.06 + 0.54 + 480.00 = 975.53.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.lake_builder import LakeBuilder, usage_row

if TYPE_CHECKING:
    from aggregator.settings import AggregatorSettings
    from schemas.lake import LakeLocation

DAY_A = date(2026, 11, 10)
DAY_B = date(2026, 11, 20)
A = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
B = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)

TEAM_DAY_COST = {
    (DAY_A, "a"): Decimal("393.40"),
    (DAY_A, "b"): Decimal("98.53"),
    (DAY_B, "a"): Decimal("3.06"),
    (DAY_B, "b"): Decimal("0.54"),
    (DAY_B, None): Decimal("480.00"),
}
MONTH_TOTAL = Decimal("975.53")


def build(builder: LakeBuilder) -> dict[str, dict]:
    first = usage_row(
        when=A,
        team="a",
        deployment="gpt-4.1",
        model="gpt-4.1-2025-04-14",
        prompt=1_000_000,
        cached=400_000,
        completion=250_000,
        record_id="rec-1",
    )
    duplicate = dict(first, eh_partition="3", eh_sequence_number=999_999, eh_offset="x", eh_enqueued_time=B)
    rows_a = [
        first,
        usage_row(
            when=A,
            team="b",
            deployment="o4-mini",
            model="o4-mini-2025-04-16",
            prompt=300_000,
            completion=500_000,
            reasoning=400_000,
        ),
        usage_row(
            when=A.replace(hour=11),
            team="a",
            deployment="gpt-4.1-batch",
            model="gpt-4.1",
            prompt=2_000_000,
            completion=1_000_000,
        ),
        usage_row(when=A, team="b", deployment="gpt-4.1", model=None, status=429),
        usage_row(when=A, team="a", deployment="gpt-4.1-ptu", model="gpt-4.1", prompt=3_000_000, completion=1_000_000),
        usage_row(when=A, team="b", deployment="gpt-4.1-ptu", model="gpt-4.1", prompt=800_000, completion=200_000),
        usage_row(when=A, team="c", deployment="mystery", model="mystery-model", prompt=1_000, completion=10),
        usage_row(when=A, team="c", deployment="rogue", model="gpt-4.1", prompt=500, completion=50),
    ]
    builder.usage(rows_a)
    builder.usage([duplicate])  # the same record redelivered, in another file of the same hour
    builder.usage(
        [
            usage_row(
                when=B,
                team="a",
                deployment="gpt-4.1",
                model="gpt-4.1",
                prompt=1_000_000,
                cached=400_000,
                completion=250_000,
            ),
        ]
    )
    late = usage_row(
        when=B.replace(hour=23), team="b", deployment="gpt-4.1", model="gpt-4.1", prompt=100_000, completion=50_000
    )
    return {"late": late}


@dataclass
class AggregatedLake:
    """A local lake holding the hand-computed month (the late record included), rolled up with the test sheet."""

    root: Path
    location: LakeLocation
    settings: AggregatorSettings
    env: dict[str, str]
    builder: LakeBuilder


def aggregated_lake(base: Path) -> AggregatedLake:
    from aggregator.aggregate import aggregate_days
    from aggregator.lakeio import open_lake
    from schemas.lake import open_location
    from tests.support.pricing import env_for, write_config

    root = base / "lake"
    location = open_location(str(root))
    location.ensure_root()
    builder = LakeBuilder(location)
    extra = build(builder)
    builder.usage([extra["late"]])
    settings = write_config(base / "config", str(root))
    aggregate_days(open_lake(str(root)), [DAY_A, DAY_B], settings)
    return AggregatedLake(root, location, settings, env_for(settings), builder)
