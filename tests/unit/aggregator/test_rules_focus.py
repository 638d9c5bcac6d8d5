"""FOCUS export rules, one per test, against figures computed here by hand (issue 20: several older assertions held
by construction, comparing values the exporter derived from one another)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from aggregator.aggregate import aggregate_days
from aggregator.focus import focus_rows
from aggregator.lakeio import open_lake
from schemas.lake import open_location
from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row
from tests.unit.aggregator.pricing_fixture import write_config

LAST_DAY = date(2026, 11, 30)
NEXT_FIRST = date(2026, 12, 1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> list[dict]:
    """November 30 and December 1 (the next month's first day), priced by tests/unit/aggregator/pricing_fixture.py:
    gpt-4.1 global from 2026-11-15: input 1.80, cached 0.45, output 7.20 per 1M; gpt-4.1-ptu: 10 PTU x 2.00/hour."""
    tmp_path = tmp_path_factory.mktemp("focus")
    root = tmp_path / "lake"
    location = open_location(str(root))
    location.ensure_root()
    noon = datetime(2026, 11, 30, 12, tzinfo=UTC)
    LakeBuilder(location).usage(
        [
            usage_row(
                when=noon,
                deployment="gpt-4.1",
                model="gpt-4.1",
                region="francecentral",
                subscription="sub-finance",
                team="finance",
                prompt=1_000_000,
                cached=200_000,
                completion=500_000,
            ),
            usage_row(when=noon, deployment="gpt-4.1-ptu", region="eastus", team="ptu", prompt=30, completion=10),
            usage_row(when=datetime(2026, 12, 1, 0, 0, tzinfo=UTC), team="december", prompt=5, completion=5),
        ]
    )
    # The teams map bills sub-finance to finance; sub-1 (the builder's default) is shared: callers name ptu/december.
    teams = "subscription_id,team,shared_teams\nsub-finance,finance,\nsub-1,platform,ptu;december\n"
    settings = write_config(tmp_path / "config", str(root), teams=teams)
    aggregate_days(open_lake(str(root)), [LAST_DAY, NEXT_FIRST], settings)
    table = focus_rows(open_lake(str(root)), date(2026, 11, 1), billing_account_id="acct", billing_account_name="A")
    return table.to_pylist()


def by_class(rows: list[dict]) -> dict[str | None, dict]:
    return {r["x_TokenClass"]: r for r in rows if r["x_Team"] == "finance"}


def test_a_month_export_holds_no_row_of_the_next_months_first_day(exported):
    """The billing period is [first of month, first of next month): usage on December 1 is not in November's file."""
    assert {r["ChargePeriodStart"].date() for r in exported} == {LAST_DAY}
    assert "december" not in {r["x_Team"] for r in exported}
    assert all(r["BillingPeriodStart"] == datetime(2026, 11, 1, tzinfo=UTC) for r in exported)
    assert all(r["BillingPeriodEnd"] == datetime(2026, 12, 1, tzinfo=UTC) for r in exported)


def test_a_charge_period_is_the_utc_day(exported):
    """ChargePeriodStart = the day at 00:00 UTC, ChargePeriodEnd = the next day at 00:00 UTC."""
    row = by_class(exported)["input"]
    assert (row["ChargePeriodStart"], row["ChargePeriodEnd"]) == (
        datetime(2026, 11, 30, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )


def test_sub_account_is_the_apim_subscription_id_and_name(exported):
    """SubAccountId is the APIM subscription's id, SubAccountName its display name (not the other way round)."""
    row = by_class(exported)["input"]
    assert (row["SubAccountId"], row["SubAccountName"]) == ("sub-finance", "SUB-FINANCE")


def test_region_and_resource_come_from_the_deployment(exported):
    """RegionId/RegionName are the deployment's region (the deployments map wins over the reported one; gpt-4.1 has
    no mapped region, so the reported one); ResourceId/Name are the deployment."""
    row = by_class(exported)["input"]
    assert (row["RegionId"], row["RegionName"]) == ("francecentral", "francecentral")
    assert (row["ResourceId"], row["ResourceName"]) == ("gpt-4.1", "gpt-4.1")
    ptu = next(r for r in exported if r["x_Team"] == "ptu")
    assert ptu["RegionId"] == "swedencentral"  # mapped in the deployments config, reported eastus


def test_token_classes_are_priced_per_1m_at_hand_computed_figures(exported):
    """input = prompt - cached at 1.80, cached at 0.45, output at 7.20 per 1M tokens (the price in force on Nov 30)."""
    rows = by_class(exported)
    expected = {
        "input": (Decimal(800_000), Decimal("0.8"), Decimal("1.80"), Decimal("1.44")),
        "cached_input": (Decimal(200_000), Decimal("0.2"), Decimal("0.45"), Decimal("0.09")),
        "output": (Decimal(500_000), Decimal("0.5"), Decimal("7.20"), Decimal("3.60")),
    }
    assert set(rows) == set(expected)
    for token_class, (consumed, quantity, unit_price, cost) in expected.items():
        row = rows[token_class]
        assert row["ConsumedQuantity"] == consumed, token_class
        assert row["PricingQuantity"] == quantity, token_class
        assert row["ListUnitPrice"] == row["ContractedUnitPrice"] == unit_price, token_class
        for column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            assert row[column] == cost, (token_class, column)
        assert (row["PricingUnit"], row["ConsumedUnit"]) == ("1M Tokens", "Tokens")
        assert row["SkuId"] == "gpt-4.1|global|*|2026-11-15"


def test_a_ptu_share_is_exported_as_its_allocated_cost_with_the_ptu_hours_consumed(exported):
    """The day's PTU cost, 10 PTU x 2.00 x 24 = 480, all to the only user that day: billed as one 'PTU Allocation'
    priced at the share (exact at any rate precision, issue 14), standing for 240 PTU-hours at 2.00."""
    (row,) = [r for r in exported if r["x_Team"] == "ptu"]
    assert row["BilledCost"] == Decimal(480)
    assert (row["PricingQuantity"], row["ListUnitPrice"]) == (Decimal(1), Decimal(480))
    assert (row["ConsumedQuantity"], row["ConsumedUnit"], row["x_PtuHourlyRate"]) == (
        Decimal(240),
        "PTU-Hours",
        Decimal(2),
    )
    assert (row["PricingUnit"], row["PricingCategory"], row["x_TokenClass"]) == ("PTU Allocation", "Other", None)
