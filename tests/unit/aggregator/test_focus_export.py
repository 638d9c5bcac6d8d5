"""FOCUS 1.2 export checked against the specification's column list and rules, not against our own code.

Columns and rules from FOCUS 1.2 (focus.finops.org, specification v1.2, section 3 "Columns" and section 2
"Attributes"); each check names the column or attribute it comes from.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from decimal import Decimal

from tests.unit.aggregator import handcomputed as hc
from tests.unit.aggregator.cli_app import invoke

# FOCUS 1.2 columns whose feature level is Mandatory (present in every FOCUS dataset).
MANDATORY_1_2 = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
]
# Every column FOCUS 1.2 defines (Mandatory, Conditional or Recommended): our non-x_ columns must be among them.
ALL_1_2 = set(MANDATORY_1_2) | {
    "AvailabilityZone",
    "BillingAccountType",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeFrequency",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedUnitPrice",
    "InvoiceId",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
}
CHARGE_CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
PRICING_CATEGORIES = {"Standard", "Dynamic", "Committed", "Other"}
SERVICE_CATEGORIES = {"AI and Machine Learning"}  # the one that applies to Azure OpenAI


def export(aggregated_lake, tmp_path) -> tuple[list[str], list[dict[str, str]]]:
    out = tmp_path / "focus.csv"
    result = invoke(["export", "focus", "--month", "2026-11", "--out", str(out)], aggregated_lake.env)
    assert result.exit_code == 0, result.output
    with out.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def stamp(text: str) -> datetime:
    assert text.endswith("Z") and "T" in text, f"date/time format attribute: ISO 8601 UTC, got {text!r}"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_columns_are_focus_1_2_with_custom_columns_prefixed_and_last(aggregated_lake, tmp_path):
    columns, rows = export(aggregated_lake, tmp_path)
    assert rows
    missing = [c for c in MANDATORY_1_2 if c not in columns]
    assert not missing, f"mandatory FOCUS 1.2 columns missing: {missing}"
    focus_columns = [c for c in columns if not c.startswith("x_")]
    assert set(focus_columns) <= ALL_1_2, f"unknown non-x_ columns: {set(focus_columns) - ALL_1_2}"
    first_custom = min(i for i, c in enumerate(columns) if c.startswith("x_"))
    assert all(c.startswith("x_") for c in columns[first_custom:]), "custom (x_) columns come after FOCUS columns"


def test_rows_follow_the_focus_rules(aggregated_lake, tmp_path):
    _, rows = export(aggregated_lake, tmp_path)
    for row in rows:
        assert row["ChargeCategory"] in CHARGE_CATEGORIES and row["ChargeCategory"] == "Usage"
        assert row["ChargeClass"] in ("", "Correction"), "ChargeClass: null unless a correction"
        for column in (
            "BilledCost",
            "BillingAccountId",
            "BillingCurrency",
            "ChargeDescription",
            "PricingUnit",
            "ProviderName",
            "PublisherName",
            "InvoiceIssuerName",
            "ServiceName",
            "ServiceCategory",
        ):
            assert row[column] != "", f"{column} must not be null"
        assert len(row["BillingCurrency"]) == 3 and row["BillingCurrency"].isupper(), "ISO 4217 currency"
        assert row["ServiceCategory"] in SERVICE_CATEGORIES
        assert row["PricingCategory"] in PRICING_CATEGORIES
        # ChargePeriodStart inclusive, ChargePeriodEnd exclusive: a daily charge is [day, day + 1).
        start, end = stamp(row["ChargePeriodStart"]), stamp(row["ChargePeriodEnd"])
        assert end - start == timedelta(days=1) and start.hour == 0
        # The billing period (a month, end exclusive) contains the charge period.
        period_start, period_end = stamp(row["BillingPeriodStart"]), stamp(row["BillingPeriodEnd"])
        assert period_start <= start and end <= period_end and period_start.day == 1 and period_end.day == 1
        # ListCost = ListUnitPrice x PricingQuantity; ContractedCost = ContractedUnitPrice x PricingQuantity.
        quantity = Decimal(row["PricingQuantity"])
        assert Decimal(row["ListCost"]) == Decimal(row["ListUnitPrice"]) * quantity
        assert Decimal(row["ContractedCost"]) == Decimal(row["ContractedUnitPrice"]) * quantity
        # Usage rows: billed = effective for on-demand usage without commitment discounts; costs are not negative.
        assert Decimal(row["BilledCost"]) == Decimal(row["EffectiveCost"]) >= 0
        if row["PricingUnit"] == "1M Tokens":
            assert Decimal(row["ConsumedQuantity"]) == quantity * 1_000_000, "ConsumedQuantity in Tokens"
        json_tags = row["Tags"]
        assert json_tags.startswith("{") and json_tags.endswith("}"), "Tags: a JSON object"


def test_exported_costs_add_up_to_the_hand_computed_month(aggregated_lake, tmp_path):
    _, rows = export(aggregated_lake, tmp_path)
    total = sum(Decimal(r["BilledCost"]) for r in rows)
    assert total.quantize(Decimal("0.01")) == hc.MONTH_TOTAL
    by_class = {}
    for r in rows:
        if r["x_Team"] == "b" and r["x_Model"].startswith("o4-mini"):
            by_class[r["x_TokenClass"]] = Decimal(r["BilledCost"])
    assert by_class == {"input": Decimal("0.33"), "output": Decimal("2.20")}
    assert not any(r["ResourceId"] in ("mystery", "rogue") for r in rows), "unpriced usage is not exported as zero"


def test_a_bad_month_is_refused(aggregated_lake, tmp_path):
    result = invoke(["export", "focus", "--month", "2026-13", "--out", str(tmp_path / "x.csv")], aggregated_lake.env)
    assert result.exit_code == 2
    assert not (tmp_path / "x.csv").exists()
