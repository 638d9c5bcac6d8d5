"""Price selection rules, one rule per test, each on the smallest day that can tell the right price from the wrong one.

Written against public behaviour (`parse_price_rows`, `roll_up_day`) so they hold across refactors; each test names
the rule it protects (issue 20: these rules had no test that a realistic bug would fail).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from aggregator.deployment_types import DeploymentType
from aggregator.deployments import DeploymentInfo, deployments_table
from aggregator.errors import PriceSheetError
from aggregator.lakeio import local_day_files, open_lake
from aggregator.prices import parse_price_rows, prices_table
from aggregator.ptu import PtuConfig
from aggregator.rollup import roll_up_day
from schemas.lake import open_location
from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row

CHANGE_DAY = date(2026, 3, 1)


def price(model: str = "m", region: str = "*", input: str = "1", **extra: str) -> dict[str, str]:
    return {
        "model": model,
        "deployment_type": "global",
        "region": region,
        "currency": "USD",
        "unit": extra.pop("unit", "1M tokens"),
        "input": input,
        "output": extra.pop("output", "10"),
        **extra,
    }


def daily(
    tmp_path: Path,
    day: date,
    sheet: list[dict[str, str]],
    *,
    model: str = "m",
    region: str = "swedencentral",
    deployment_region: str | None = None,
    prompt: int = 1_000_000,
    completion: int = 0,
) -> dict:
    """Roll up one request of `prompt`/`completion` tokens on `day` (deployment `d`, global) and return its row."""
    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    LakeBuilder(location).usage(
        [usage_row(when=when, deployment="d", model=model, region=region, prompt=prompt, completion=completion)]
    )
    deployments = deployments_table([DeploymentInfo("d", DeploymentType("global"), deployment_region)])
    with local_day_files(open_lake(str(tmp_path / "lake")), "usage", day) as files:
        tables = roll_up_day(
            files,
            day,
            prices=prices_table(parse_price_rows(sheet, "test")),
            deployments=deployments,
            ptu=PtuConfig(),
            team_tag="team",
        )
    (row,) = tables["chargeback_daily"].to_pylist()
    return row


def test_a_price_row_is_no_longer_in_force_on_its_effective_to_day(tmp_path: Path):
    """effective_to is exclusive: usage on that day is not priced by the row (here: no other row, so unpriced)."""
    row = daily(tmp_path, CHANGE_DAY, [price(effective_from="2026-01-01", effective_to=CHANGE_DAY.isoformat())])
    assert (row["pricing_status"], row["unpriced_reason"]) == ("unpriced", "no_price")
    assert row["input_cost"] is None


def test_a_price_row_is_in_force_on_its_effective_from_day(tmp_path: Path):
    """effective_from is inclusive: usage on the first day of a price is priced by it, at its figure."""
    row = daily(tmp_path, CHANGE_DAY, [price(input="3", effective_from=CHANGE_DAY.isoformat())])
    assert row["pricing_status"] == "priced"
    assert row["input_per_1m"] == Decimal(3)
    assert row["input_cost"] == Decimal(3)  # 1M prompt tokens at 3 per 1M


def test_on_a_price_change_day_the_new_row_prices_the_day_and_the_day_before_keeps_the_old(tmp_path: Path):
    """Prices change at 00:00 UTC: the old row up to the day before effective_to, the new row from that day."""
    sheet = [
        price(input="2", effective_from="2026-01-01", effective_to=CHANGE_DAY.isoformat()),
        price(input="5", effective_from=CHANGE_DAY.isoformat()),
    ]
    assert daily(tmp_path / "on", CHANGE_DAY, sheet)["input_per_1m"] == Decimal(5)
    assert daily(tmp_path / "before", date(2026, 2, 28), sheet)["input_per_1m"] == Decimal(2)


@pytest.mark.parametrize("order", ["star_first", "exact_first"])
def test_an_exact_region_price_beats_the_any_region_price(tmp_path: Path, order: str):
    """A price for the deployment's own region wins over the `*` row, whatever the sheet order."""
    rows = [price(region="*", input="1"), price(region="swedencentral", input="4")]
    if order == "exact_first":
        rows.reverse()
    row = daily(tmp_path, CHANGE_DAY, rows)
    assert row["input_per_1m"] == Decimal(4)
    assert row["price_id"] == "m|global|swedencentral|always"
    # and a region with no row of its own falls back to `*`
    other = daily(tmp_path / "other", CHANGE_DAY, rows, region="eastus")
    assert other["input_per_1m"] == Decimal(1)


@pytest.mark.parametrize("order", ["undated_first", "dated_first"])
def test_a_dated_model_price_beats_the_undated_model_price(tmp_path: Path, order: str):
    """A response naming `gpt-4o-2024-08-06` is priced by that row when the sheet has one, not by `gpt-4o`."""
    rows = [price(model="gpt-4o", input="1"), price(model="gpt-4o-2024-08-06", input="6")]
    if order == "dated_first":
        rows.reverse()
    assert daily(tmp_path, CHANGE_DAY, rows, model="gpt-4o-2024-08-06")["input_per_1m"] == Decimal(6)
    # a version the sheet does not list falls back to the model without its date suffix
    assert daily(tmp_path / "undated", CHANGE_DAY, rows, model="gpt-4o-2025-01-01")["input_per_1m"] == Decimal(1)


def test_the_deployments_map_region_beats_the_region_the_response_reported(tmp_path: Path):
    """Where the deployments map names a region, prices are looked up there, not in the reported region."""
    rows = [price(region="westeurope", input="7"), price(region="swedencentral", input="9")]
    row = daily(tmp_path, CHANGE_DAY, rows, region="swedencentral", deployment_region="westeurope")
    assert row["region"] == "westeurope"
    assert row["input_per_1m"] == Decimal(7)
    # without a mapped region the reported one is used
    assert daily(tmp_path / "reported", CHANGE_DAY, rows, region="swedencentral")["input_per_1m"] == Decimal(9)


def test_completion_tokens_without_an_output_price_are_unpriced_not_billed_at_zero(tmp_path: Path):
    """A model row with no output price cannot price completion tokens: the row is unpriced with a reason."""
    row = daily(tmp_path, CHANGE_DAY, [price(input="1", output="")], prompt=10, completion=5)
    assert (row["pricing_status"], row["unpriced_reason"]) == ("unpriced", "no_output_price")
    assert row["output_cost"] is None and row["total_cost"] is None
    # the same row prices prompt-only usage (an embeddings model has no output price)
    embeddings = daily(tmp_path / "prompt_only", CHANGE_DAY, [price(input="1", output="")], prompt=10, completion=0)
    assert embeddings["pricing_status"] == "priced"


def test_every_price_column_given_per_1k_tokens_is_converted_to_per_1m():
    """A `1K tokens` sheet row is multiplied by 1000 in every price column, cached_input and cache_write included."""
    (row,) = parse_price_rows(
        [price(unit="1K tokens", input="0.002", cached_input="0.0005", output="0.008", cache_write="0.0025")], "t"
    )
    assert row.input_per_1m == Decimal(2)
    assert row.cached_input_per_1m == Decimal("0.5")
    assert row.output_per_1m == Decimal(8)
    assert row.cache_write_per_1m == Decimal("2.5")


@pytest.mark.parametrize("column", ["input", "cached_input", "output", "cache_write"])
def test_a_price_with_more_than_8_decimals_per_1m_is_refused(column: str):
    """Prices are stored as DECIMAL(18,8) per 1M tokens: a 9th decimal would be silently rounded, so it is refused."""
    with pytest.raises(PriceSheetError, match="more than 8 decimals"):
        parse_price_rows([price(**{column: "0.000000001"})], "t")
    # 8 decimals are kept exactly
    (row,) = parse_price_rows([price(**{column: "0.00000001"})], "t")
    assert getattr(row, f"{column}_per_1m") == Decimal("0.00000001")


def test_price_row_in_force_is_from_inclusive_to_exclusive():
    """PriceRow.in_force: [effective_from, effective_to) in UTC days, open ends when empty."""
    (row,) = parse_price_rows([price(effective_from="2026-01-01", effective_to="2026-03-01")], "t")
    assert [row.in_force(d) for d in (date(2025, 12, 31), date(2026, 1, 1), date(2026, 2, 28), CHANGE_DAY)] == [
        False,
        True,
        True,
        False,
    ]
    (open_row,) = parse_price_rows([price()], "t")
    assert open_row.in_force(date(1970, 1, 1)) and open_row.in_force(date(2999, 1, 1))


def test_touching_price_periods_are_accepted_and_overlapping_ones_refused():
    """Two rows of one model/type/region may meet (one's effective_to = the next's effective_from), never overlap."""
    touching = [price(effective_to="2026-03-01"), price(effective_from="2026-03-01")]
    assert len(parse_price_rows(touching, "t")) == 2
    with pytest.raises(PriceSheetError, match="overlap"):
        parse_price_rows([price(effective_to="2026-03-02"), price(effective_from="2026-03-01")], "t")
    with pytest.raises(PriceSheetError, match="overlap"):
        parse_price_rows([price(), price(effective_from="2026-03-01")], "t")
