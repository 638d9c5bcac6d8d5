"""Tags as dimensions, bounded (issue 14, deliverable 2): only configured keys enter the roll-up key, values are
validated and capped per day with an explicit overflow value, and `usage` keeps every tag for SQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from aggregator.dimensions import INVALID, OVERFLOW, TagDimensions, TagDimensionsError
from tests.unit.aggregator.billing_lake import BillingLake
from tests.unit.aggregator.lake_builder import usage_row

DAY = date(2026, 11, 10)
T = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
TEAMS = "subscription_id,team\nsub-1,search\n"


def tagged(tags: dict[str, str], n: int = 1) -> list[dict]:
    rows = []
    for _ in range(n):
        row = usage_row(when=T, team=None, prompt=100, completion=10)
        row["tags"] = list(tags.items())
        rows.append(row)
    return rows


def test_only_configured_keys_enter_the_key_and_hostile_values_become_invalid(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS, dimensions="project, Cost-Center")
    lake.usage(
        tagged({"project": "ranker", "cost-center": "CC-1", "session": "s-1"})
        + tagged({"project": "ranker", "cost-center": "CC-1", "session": "s-2"})
        + tagged({"project": "<img src=x onerror=alert(1)>"})
        + tagged({"project": '=HYPERLINK("http://evil")'})
        + tagged({"project": "x" * 256})
        + tagged({"team": "finance"})
    )
    lake.aggregate(DAY)
    rows = lake.table("chargeback_daily", DAY)
    got = sorted((r["tags"], r["requests"]) for r in rows)
    assert got == sorted(
        [
            ('{"cost-center":"CC-1","project":"ranker"}', 2),  # `session` is not a dimension: no row per session
            (json.dumps({"project": INVALID}, separators=(",", ":")), 3),
            ("{}", 1),  # the team tag is not a dimension unless configured
        ]
    )
    # The raw values stay in `usage`, for SQL.
    result = lake.run("sql", "SELECT count(DISTINCT tags_json) AS n FROM usage", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"n": 6}]


def test_values_are_capped_per_day_keeping_the_most_requested(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS, dimensions="project", max_values=2)
    rows = tagged({"project": "big"}, 5) + tagged({"project": "mid"}, 3) + tagged({"project": "also-mid"}, 3)
    rows += [r for i in range(40) for r in tagged({"project": f"one-off-{i}"})]
    lake.usage(rows)
    lake.aggregate(DAY)
    got = {json.loads(r["tags"])["project"]: r["requests"] for r in lake.table("chargeback_daily", DAY)}
    # Ties on requests go alphabetically: "also-mid" before "mid".
    assert got == {"big": 5, "also-mid": 3, OVERFLOW: 43}
    assert sum(got.values()) == len(rows), "overflow merges rows, it never drops usage"


def test_dimension_keys_are_checked():
    assert TagDimensions.parse(" project ,Cost-Center,,project").keys == ("cost-center", "project")
    with pytest.raises(TagDimensionsError, match="is not a tag key"):
        TagDimensions.parse("project,$.team")
    with pytest.raises(TagDimensionsError):
        TagDimensions.parse("project", 0)
