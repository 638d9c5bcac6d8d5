"""Roll-up costing rules, one per test, on one request priced by hand (issue 20)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from aggregator.deployment_types import DeploymentType
from aggregator.deployments import DeploymentInfo, deployments_table
from aggregator.lakeio import local_day_files, open_lake
from aggregator.prices import parse_price_rows, prices_table
from aggregator.ptu import PtuConfig
from aggregator.rollup import roll_up_day
from schemas.lake import open_location
from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row

DAY = date(2026, 11, 10)
NOON = datetime(2026, 11, 10, 12, tzinfo=UTC)
SHEET = {
    "model": "m",
    "deployment_type": "global",
    "region": "*",
    "currency": "USD",
    "unit": "1M tokens",
    "input": "2",
    "cached_input": "0.5",
    "output": "8",
}


def roll_up(tmp_path: Path, rows: list[dict], *, sheet: dict | None = None, ptu: PtuConfig | None = None) -> dict:
    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    LakeBuilder(location).usage(rows)
    with local_day_files(open_lake(str(tmp_path / "lake")), "usage", DAY) as files:
        return roll_up_day(
            files,
            DAY,
            prices=prices_table(parse_price_rows([sheet or SHEET], "t")),
            deployments=deployments_table([DeploymentInfo("d", DeploymentType("global"), None)]),
            ptu=ptu or PtuConfig(),
            team_tag="team",
        )


def one(tmp_path: Path, **usage: object) -> dict:
    (row,) = roll_up(tmp_path, [usage_row(when=NOON, deployment="d", model="m", **usage)])[
        "chargeback_daily"
    ].to_pylist()
    return row


def test_cached_tokens_are_part_of_prompt_tokens_and_reasoning_part_of_completion(tmp_path: Path):
    """prompt includes cached, completion includes reasoning: input cost = (prompt - cached) x input price, cached
    cost = cached x cached price, output = completion x output price; reasoning cost is shown, never added again."""
    row = one(tmp_path, prompt=1000, cached=400, completion=300, reasoning=100)
    assert row["input_cost"] == Decimal("0.0012")  # 600 x 2 / 1M
    assert row["cached_input_cost"] == Decimal("0.0002")  # 400 x 0.5 / 1M
    assert row["output_cost"] == Decimal("0.0024")  # 300 x 8 / 1M
    assert row["reasoning_cost"] == Decimal("0.0008")  # 100 x 8 / 1M, inside output_cost
    assert row["token_cost"] == row["total_cost"] == Decimal("0.0038")


def test_cached_tokens_of_a_model_without_a_cached_price_are_billed_at_the_input_price(tmp_path: Path):
    """An empty cached_input price means cached tokens cost what input tokens cost (never 0)."""
    rows = roll_up(
        tmp_path,
        [usage_row(when=NOON, deployment="d", model="m", prompt=1000, cached=400, completion=0)],
        sheet=SHEET | {"cached_input": ""},
    )["chargeback_daily"].to_pylist()
    (row,) = rows
    assert row["cached_input_per_1m"] == Decimal(2)
    assert row["cached_input_cost"] == Decimal("0.0008")  # 400 x 2 / 1M


def test_a_request_is_failed_from_status_400_up(tmp_path: Path):
    """successful = status below 400, failed = 400 and above; every request is counted once."""
    rows = [
        usage_row(when=NOON, deployment="d", model="m", status=s, prompt=1, completion=1) for s in (200, 399, 400, 429)
    ]
    (row,) = roll_up(tmp_path, rows)["chargeback_daily"].to_pylist()
    assert (row["requests"], row["successful"], row["failed"]) == (4, 2, 2)


def test_tokens_reported_only_as_a_total_are_unpriced_not_guessed(tmp_path: Path):
    """Usage with a total but no prompt/completion split cannot be priced: unpriced `tokens_not_split`."""
    usage = usage_row(when=NOON, deployment="d", model="m", prompt=None, completion=None) | {
        "total_tokens": 50,
        "usage_source": "reported",
    }
    result = roll_up(tmp_path, [usage])
    (row,) = result["chargeback_daily"].to_pylist()
    assert (row["pricing_status"], row["unpriced_reason"], row["total_cost"]) == ("unpriced", "tokens_not_split", None)
    assert result["unpriced"].column("reason").to_pylist() == ["tokens_not_split"]


def test_a_ptu_deployment_is_billed_its_ptu_cost_and_nothing_per_token(tmp_path: Path):
    """A deployment in the PTU config is provisioned: token costs are 0 and the day's PTU cost (1 x 1.5 x 24 = 36)
    is its cost, so nothing is billed twice."""
    ptu = PtuConfig.model_validate(
        {
            "provisioned": [
                {
                    "deployment": "d",
                    "ptu_count": 1,
                    "hourly_rate": "1.5",
                    "currency": "USD",
                    "effective_from": "2026-11-01",
                }
            ]
        }
    )
    (row,) = roll_up(tmp_path, [usage_row(when=NOON, deployment="d", model="m", prompt=1000, completion=10)], ptu=ptu)[
        "chargeback_daily"
    ].to_pylist()
    assert (row["pricing_status"], row["deployment_type"]) == ("ptu", "provisioned")
    assert row["token_cost"] == 0
    assert row["ptu_cost"] == row["total_cost"] == Decimal(36)
    # No teams map here: the row is unmapped, and the team tag is no dimension unless configured (issue 14).
    assert (row["team"], row["attribution"], json.loads(row["tags"])) == (None, "unmapped", {})
