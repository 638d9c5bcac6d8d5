"""`chargeback export focus`: the month's chargeback as FOCUS 1.2 rows, so finance tools read it beside the cloud bill.

One row per day x chargeback key x token class (input, cached input, output; reasoning is output), priced in
"1M Tokens", plus one row per PTU share: one "PTU Allocation" priced at the share itself, so the allocated
`ptu_cost` is billed exactly at any hourly-rate precision (the PTU-hours it stands for are the ConsumedQuantity).
Mapping choices:

- BillingAccount = this chargeback (`--billing-account-id/-name`); SubAccount = the APIM subscription;
- Resource = the Azure OpenAI deployment; Region = its region; Sku = the price sheet row (`price_id`);
- List = Contracted = Effective = Billed cost: the sheet holds list prices, and chargeback bills what it lists;
- ChargeCategory `Usage`, ChargeClass null (no corrections), ChargeFrequency `Usage-Based`,
  ChargePeriod = the UTC day `[start, end)`, BillingPeriod = the UTC month `[start, end)`;
- unpriced usage has no cost to export: it stays in the `unpriced` table (and the report), it is not a zero here;
- one currency, or exchange rates (aggregator/fx.py) converting every amount exactly into the billing currency, the
  original amounts kept in the PricingCurrency* columns;
- the CSV neutralises spreadsheet formulas (aggregator/csvsafe.py); Parquet keeps every value exact.

Custom columns are `x_`-prefixed and come after the FOCUS columns.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from aggregator.csvsafe import neutralise_table
from aggregator.dates import next_month
from aggregator.db import connect
from aggregator.errors import AggregatorError
from aggregator.fx import RATE_SCALE as FX_RATE_SCALE
from aggregator.fx import FxRates
from aggregator.lakeio import derived_dataset
from aggregator.money import COST_ARROW, COST_SCALE, RATE_ARROW, billing_currency
from aggregator.tables import derived_schemas
from schemas.lake import LakeLocation

FOCUS_VERSION = "1.2"
QUANTITY_SCALE = Decimal("1e-10")
MONEY = COST_ARROW
QUANTITY = pa.decimal128(38, 10)
STAMP = pa.timestamp("s", tz="UTC")


def focus_schema(money: pa.DataType) -> pa.Schema:
    """The export's columns, with costs and unit prices as `money` (more decimals when amounts are converted)."""
    return pa.schema(
        [
            ("BilledCost", money),
            ("BillingAccountId", pa.string()),
            ("BillingAccountName", pa.string()),
            ("BillingCurrency", pa.string()),
            ("BillingPeriodEnd", STAMP),
            ("BillingPeriodStart", STAMP),
            ("ChargeCategory", pa.string()),
            ("ChargeClass", pa.string()),
            ("ChargeDescription", pa.string()),
            ("ChargeFrequency", pa.string()),
            ("ChargePeriodEnd", STAMP),
            ("ChargePeriodStart", STAMP),
            ("ConsumedQuantity", QUANTITY),
            ("ConsumedUnit", pa.string()),
            ("ContractedCost", money),
            ("ContractedUnitPrice", money),
            ("EffectiveCost", money),
            ("InvoiceIssuerName", pa.string()),
            ("ListCost", money),
            ("ListUnitPrice", money),
            ("PricingCategory", pa.string()),
            ("PricingCurrency", pa.string()),
            ("PricingCurrencyContractedUnitPrice", money),
            ("PricingCurrencyEffectiveCost", money),
            ("PricingCurrencyListUnitPrice", money),
            ("PricingQuantity", QUANTITY),
            ("PricingUnit", pa.string()),
            ("ProviderName", pa.string()),
            ("PublisherName", pa.string()),
            ("RegionId", pa.string()),
            ("RegionName", pa.string()),
            ("ResourceId", pa.string()),
            ("ResourceName", pa.string()),
            ("ResourceType", pa.string()),
            ("ServiceCategory", pa.string()),
            ("ServiceName", pa.string()),
            ("ServiceSubcategory", pa.string()),
            ("SkuId", pa.string()),
            ("SkuMeter", pa.string()),
            ("SubAccountId", pa.string()),
            ("SubAccountName", pa.string()),
            ("Tags", pa.string()),
            ("x_Team", pa.string()),
            ("x_Attribution", pa.string()),
            ("x_CostCenter", pa.string()),
            ("x_ProductId", pa.string()),
            ("x_Model", pa.string()),
            ("x_DeploymentType", pa.string()),
            ("x_TokenClass", pa.string()),
            ("x_Requests", pa.int64()),
            ("x_PtuHourlyRate", RATE_ARROW),
        ],
        metadata={"focus_version": FOCUS_VERSION},
    )


FOCUS_SCHEMA = focus_schema(MONEY)
CONVERTED_MONEY = pa.decimal128(38, COST_SCALE + FX_RATE_SCALE)
"""Cost x exchange rate, exact."""


TOKEN_CLASSES = (
    ("input", "Input Tokens", "prompt_tokens - cached_tokens", "input_per_1m", "input_cost"),
    ("cached_input", "Cached Input Tokens", "cached_tokens", "cached_input_per_1m", "cached_input_cost"),
    ("output", "Output Tokens (incl. reasoning)", "completion_tokens", "output_per_1m", "output_cost"),
)


def _daily_rows(location: LakeLocation, first: date) -> list[dict]:
    con = connect()
    try:
        con.register("daily", derived_dataset(location, "chargeback_daily", derived_schemas()["chargeback_daily"]))
        con.register("alloc", derived_dataset(location, "ptu_allocation", derived_schemas()["ptu_allocation"]))
        return (
            con.sql(
                """
            SELECT d.*, a.ptu_count, a.hourly_rate
            FROM daily d
            LEFT JOIN (SELECT DISTINCT date, deployment, ptu_count, hourly_rate FROM alloc) a
              ON a.date = d.date AND a.deployment = d.deployment AND d.ptu_cost IS NOT NULL AND d.ptu_cost <> 0
            WHERE d.date >= $first AND d.date < $end
            ORDER BY d.date, d.subscription_id, d.product_id, d.team, d.deployment, d.model, d.tags
            """,
                params={"first": first, "end": next_month(first)},
            )
            .to_arrow_table()
            .to_pylist()
        )
    finally:
        con.close()


def focus_rows(
    location: LakeLocation,
    first: date,
    *,
    billing_account_id: str,
    billing_account_name: str,
    fx: FxRates | None = None,
) -> pa.Table:
    """The month's FOCUS rows from the lake's `chargeback_daily` and `ptu_allocation`."""
    return focus_table(
        _daily_rows(location, first),
        first,
        billing_account_id=billing_account_id,
        billing_account_name=billing_account_name,
        fx=fx,
    )


def _describe(row: dict) -> str:
    return f"{row['date']} {row['deployment']} {row['model'] or ''} team {row['team'] or '-'}".replace("  ", " ")


def focus_table(
    daily: list[dict],
    first: date,
    *,
    billing_account_id: str,
    billing_account_name: str,
    fx: FxRates | None = None,
) -> pa.Table:
    """FOCUS rows of `chargeback_daily` rows (each with the `ptu_count` and `hourly_rate` of its PTU deployment, if
    any). Every cost is copied from the roll-up, never recomputed from a rounded quantity, so the export's
    BilledCost adds up to the tables' total_cost exactly. One currency, or a `CurrencyMixError` naming the rows; with
    exchange rates (`fx`), every cost in their billing currency, converted exactly with the rate of its usage day,
    and the original amounts in the PricingCurrency* columns."""
    billing = billing_currency(
        [(r["currency"], r["date"], _describe(r)) for r in daily if r["total_cost"] is not None], "the FOCUS export", fx
    )
    period_start = datetime.combine(first, time(), UTC)
    period_end = datetime.combine(next_month(first), time(), UTC)
    out: list[dict] = []
    for row in daily:
        start = datetime.combine(row["date"], time(), UTC)
        rate = fx.rate(row["currency"], row["date"]) if fx is not None and row["currency"] else None
        common = {
            "BillingAccountId": billing_account_id,
            "BillingAccountName": billing_account_name,
            "BillingCurrency": billing if fx is not None and row["currency"] else row["currency"],
            "PricingCurrency": row["currency"],
            "BillingPeriodEnd": period_end,
            "BillingPeriodStart": period_start,
            "ChargeCategory": "Usage",
            "ChargeClass": None,
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodEnd": start + timedelta(days=1),
            "ChargePeriodStart": start,
            "InvoiceIssuerName": "Microsoft",
            "ProviderName": "Microsoft",
            "PublisherName": "Microsoft",
            "RegionId": row["region"],
            "RegionName": row["region"],
            "ResourceId": row["deployment"],
            "ResourceName": row["deployment"],
            "ResourceType": "Azure OpenAI deployment",
            "ServiceCategory": "AI and Machine Learning",
            "ServiceName": "Azure OpenAI",
            "ServiceSubcategory": "Generative AI",
            "SubAccountId": row["subscription_id"],
            "SubAccountName": row["subscription_name"],
            "Tags": row["tags"],
            "x_Team": row["team"],
            "x_Attribution": row.get("attribution"),
            "x_CostCenter": row.get("cost_center"),
            "x_ProductId": row["product_id"],
            "x_Model": row["model"],
            "x_DeploymentType": row["deployment_type"],
            "x_Requests": row["requests"],
        }
        if row["pricing_status"] == "priced":
            tokens = {
                "input": row["prompt_tokens"] - row["cached_tokens"],
                "cached_input": row["cached_tokens"],
                "output": row["completion_tokens"],
            }
            for token_class, meter, _, price_column, cost_column in TOKEN_CLASSES:
                if tokens[token_class] <= 0:
                    continue
                price: Decimal = row[price_column]
                quantity = Decimal(tokens[token_class]) / 1_000_000
                cost = price * quantity
                if cost != row[cost_column]:
                    raise AggregatorError(f"FOCUS cost {cost} differs from the roll-up's {row[cost_column]}: a bug")
                out.append(
                    common
                    | _money(cost, price, quantity, rate)
                    | {
                        "ChargeDescription": f"{row['model']} {meter} on {row['deployment']}",
                        "ConsumedQuantity": Decimal(tokens[token_class]),
                        "ConsumedUnit": "Tokens",
                        "PricingCategory": "Standard",
                        "PricingUnit": "1M Tokens",
                        "SkuId": row["price_id"],
                        "SkuMeter": f"{row['model']} {meter}",
                        "x_TokenClass": token_class,
                        "x_PtuHourlyRate": None,
                    }
                )
        if row["ptu_cost"]:
            # The allocated share is billed exactly: one unit of "PTU Allocation" priced at the share itself, so
            # ListUnitPrice x PricingQuantity = cost holds exactly at any rate precision. The PTU-hours the share
            # stands for (cost / hourly rate, to 1e-10) are the consumed quantity, for reading only.
            cost = row["ptu_cost"]
            hourly = row.get("hourly_rate")
            hours = (cost / hourly).quantize(QUANTITY_SCALE) if hourly else None
            out.append(
                common
                | _money(cost, cost, Decimal(1), rate)
                | {
                    "ChargeDescription": f"Provisioned throughput share of {row['deployment']}"
                    + (
                        ""
                        if row["team"] or row["pricing_status"] != "ptu_idle"
                        else " (unallocated: no traffic that day)"
                    ),
                    "ConsumedQuantity": hours,
                    "ConsumedUnit": "PTU-Hours" if hours is not None else None,
                    "PricingCategory": "Other",
                    "PricingUnit": "PTU Allocation",
                    "SkuId": f"ptu|{row['deployment']}",
                    "SkuMeter": "Provisioned Throughput Unit Hours",
                    "x_TokenClass": None,
                    "x_PtuHourlyRate": hourly,
                }
            )
    return pa.Table.from_pylist(out, schema=FOCUS_SCHEMA if fx is None else focus_schema(CONVERTED_MONEY))


def _money(cost: Decimal, unit_price: Decimal, quantity: Decimal, rate: Decimal | None) -> dict[str, Decimal]:
    """Cost columns in the billing currency (x `rate`, exactly, when converting) and in the pricing currency."""
    with localcontext() as exact:
        exact.prec = 80
        billed, price = (cost, unit_price) if rate is None else (cost * rate, unit_price * rate)
    return {
        "BilledCost": billed,
        "ContractedCost": billed,
        "EffectiveCost": billed,
        "ListCost": billed,
        "ListUnitPrice": price,
        "ContractedUnitPrice": price,
        "PricingQuantity": quantity,
        "PricingCurrencyContractedUnitPrice": unit_price,
        "PricingCurrencyEffectiveCost": cost,
        "PricingCurrencyListUnitPrice": unit_price,
    }


def write_focus(table: pa.Table, out: Path) -> None:
    """Parquet (exact values) when `out` ends in .parquet, else CSV for people: ISO 8601 UTC timestamps
    (`2026-11-01T00:00:00Z`) and formula-looking text neutralised (aggregator/csvsafe.py)."""
    if out.suffix == ".parquet":
        pq.write_table(table, out, compression="zstd")
        return
    columns = []
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            column = pa.array(
                [v.strftime("%Y-%m-%dT%H:%M:%SZ") if v else None for v in column.to_pylist()], pa.string()
            )
        columns.append(column)
    pacsv.write_csv(neutralise_table(pa.table(columns, names=table.column_names)), out)
