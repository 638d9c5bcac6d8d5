"""The time-versioned price sheet: one row per (model, deployment type, region, validity range), units explicit.

CSV columns (header required, order free):

| column | meaning |
|---|---|
| `model` | model name as the response names it, without a `-YYYY-MM-DD` version suffix (`gpt-4.1`) |
| `deployment_type` | `global`, `data_zone`, `regional`, `batch` or `provisioned` |
| `region` | Azure region (`eastus2`, `East US 2`) or `*` for any region; a specific region wins over `*` |
| `currency` | ISO 4217 code, e.g. `USD` |
| `unit` | what the prices are per: `1M tokens` or `1K tokens` (converted to per 1M on load, exactly) |
| `input` | price of an uncached input token (required) |
| `cached_input` | price of a cached input token; empty = billed as input |
| `output` | price of an output token; reasoning tokens are output tokens; empty = the model has no output |
| `cache_write` | price of writing the prompt cache, where the model bills it; empty = not billed |
| `effective_from` | first UTC day the row is in force (`YYYY-MM-DD`); empty = since always |
| `effective_to` | first UTC day it is no longer in force (exclusive); empty = still in force |
| `source` | where the figures come from (free text) |

Prices change at 00:00 UTC: a day's usage is priced with the row in force on that day. Two rows for the same
model, deployment type and region may not overlap in time.
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal, TextIO, overload

import pyarrow as pa

from aggregator.dates import optional_day
from aggregator.deployment_types import ANY_REGION, DeploymentType, normalize_region, parse_deployment_type
from aggregator.errors import PriceSheetError
from aggregator.money import PRICE_ARROW, PRICE_SCALE

PRICE_TYPE = PRICE_ARROW
UNITS: dict[str, int] = {"1m tokens": 1, "1k tokens": 1000}
"""Multiplier from the sheet's unit to 'per 1M tokens'."""
REQUIRED_COLUMNS = ("model", "deployment_type", "region", "currency", "unit", "input", "effective_from", "effective_to")
SHEET_COLUMNS = (
    "model",
    "deployment_type",
    "region",
    "currency",
    "unit",
    "input",
    "cached_input",
    "output",
    "cache_write",
    "effective_from",
    "effective_to",
    "source",
)

PRICES_SCHEMA = pa.schema(
    [
        pa.field("price_id", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("deployment_type", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("input_per_1m", PRICE_TYPE, nullable=False),
        pa.field("cached_input_per_1m", PRICE_TYPE),
        pa.field("output_per_1m", PRICE_TYPE),
        pa.field("cache_write_per_1m", PRICE_TYPE),
        pa.field("effective_from", pa.date32()),
        pa.field("effective_to", pa.date32()),
        pa.field("source", pa.string()),
    ],
    metadata={"table": "prices", "unit": "per 1M tokens"},
)


@dataclass(frozen=True)
class PriceRow:
    model: str
    deployment_type: DeploymentType
    region: str
    currency: str
    input_per_1m: Decimal
    cached_input_per_1m: Decimal | None
    output_per_1m: Decimal | None
    cache_write_per_1m: Decimal | None
    effective_from: date | None
    effective_to: date | None
    source: str

    @property
    def price_id(self) -> str:
        start = self.effective_from.isoformat() if self.effective_from else "always"
        return f"{self.model}|{self.deployment_type.value}|{self.region}|{start}"

    def in_force(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day < self.effective_to
        )


@overload
def _price(raw: str | None, multiplier: int, where: str, *, required: Literal[True]) -> Decimal: ...
@overload
def _price(raw: str | None, multiplier: int, where: str, *, required: Literal[False]) -> Decimal | None: ...


def _price(raw: str | None, multiplier: int, where: str, *, required: bool) -> Decimal | None:
    text = (raw or "").strip()
    if not text:
        if required:
            raise PriceSheetError(f"{where}: a price is required")
        return None
    try:
        value = Decimal(text) * multiplier
    except InvalidOperation:
        raise PriceSheetError(f"{where}: {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise PriceSheetError(f"{where}: {text!r} must be a non-negative number")
    if value != value.quantize(Decimal(1).scaleb(-PRICE_SCALE)):
        raise PriceSheetError(f"{where}: {text!r} has more than {PRICE_SCALE} decimals per 1M tokens")
    if value >= Decimal(10) ** (18 - PRICE_SCALE):
        raise PriceSheetError(f"{where}: {text!r} is implausibly large")
    return value


def _day(raw: str | None, where: str) -> date | None:
    return optional_day(raw, where, PriceSheetError)


def parse_price_rows(rows: list[dict[str, str]], origin: str) -> list[PriceRow]:
    result: list[PriceRow] = []
    for number, row in enumerate(rows, start=2):
        where = f"{origin}, line {number}"
        model = (row.get("model") or "").strip()
        if not model:
            raise PriceSheetError(f"{where}: model is empty")
        unit = (row.get("unit") or "").strip().lower()
        if unit not in UNITS:
            raise PriceSheetError(f"{where}: unit {row.get('unit')!r} must be one of '1M tokens', '1K tokens'")
        multiplier = UNITS[unit]
        try:
            deployment_type = parse_deployment_type(row.get("deployment_type") or "", where)
        except ValueError as exc:
            raise PriceSheetError(str(exc)) from None
        region = normalize_region(row.get("region") or ANY_REGION) or ANY_REGION
        currency = (row.get("currency") or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise PriceSheetError(f"{where}: currency {row.get('currency')!r} is not an ISO 4217 code")
        start, end = _day(row.get("effective_from"), where), _day(row.get("effective_to"), where)
        if start and end and not start < end:
            raise PriceSheetError(f"{where}: effective_to {end} must be after effective_from {start}")
        result.append(
            PriceRow(
                model=model,
                deployment_type=deployment_type,
                region=region,
                currency=currency,
                input_per_1m=_price(row.get("input"), multiplier, f"{where} input", required=True),
                cached_input_per_1m=_price(
                    row.get("cached_input"), multiplier, f"{where} cached_input", required=False
                ),
                output_per_1m=_price(row.get("output"), multiplier, f"{where} output", required=False),
                cache_write_per_1m=_price(row.get("cache_write"), multiplier, f"{where} cache_write", required=False),
                effective_from=start,
                effective_to=end,
                source=(row.get("source") or "").strip(),
            )
        )
    _reject_overlaps(result, origin)
    return result


def _reject_overlaps(rows: list[PriceRow], origin: str) -> None:
    by_key: dict[tuple[str, str, str], list[PriceRow]] = {}
    for row in rows:
        by_key.setdefault((row.model, row.deployment_type.value, row.region), []).append(row)
    for key, group in by_key.items():
        group.sort(key=lambda r: r.effective_from or date.min)
        for earlier, later in itertools.pairwise(group):
            end = earlier.effective_to or date.max
            if (later.effective_from or date.min) < end:
                raise PriceSheetError(
                    f"{origin}: two prices for {'/'.join(key)} overlap "
                    f"({earlier.price_id} until {earlier.effective_to or 'open end'}, {later.price_id})"
                )


def load_price_sheet(path: Path) -> list[PriceRow]:
    if not path.is_file():
        raise PriceSheetError(f"price sheet {path} does not exist")
    return parse_price_sheet(path.read_bytes().decode("utf-8-sig"), str(path))


def parse_price_sheet(text: str, where: str) -> list[PriceRow]:
    """A price sheet's CSV text (read by common.storage.read_config_file from a path or a Blob URL)."""
    reader = csv.DictReader(row for row in io.StringIO(text, newline="") if row.strip() and not row.startswith("#"))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise PriceSheetError(f"{where}: missing column(s) {', '.join(missing)}")
    return parse_price_rows(list(reader), where)


def prices_table(rows: list[PriceRow]) -> pa.Table:
    columns: dict[str, list[object]] = {name: [] for name in PRICES_SCHEMA.names}
    for row in rows:
        columns["price_id"].append(row.price_id)
        columns["model"].append(row.model)
        columns["deployment_type"].append(row.deployment_type.value)
        columns["region"].append(row.region)
        columns["currency"].append(row.currency)
        columns["input_per_1m"].append(row.input_per_1m)
        columns["cached_input_per_1m"].append(row.cached_input_per_1m)
        columns["output_per_1m"].append(row.output_per_1m)
        columns["cache_write_per_1m"].append(row.cache_write_per_1m)
        columns["effective_from"].append(row.effective_from)
        columns["effective_to"].append(row.effective_to)
        columns["source"].append(row.source)
    return pa.table(columns, schema=PRICES_SCHEMA)


def write_price_sheet(rows: list[PriceRow], handle: TextIO) -> None:
    """Write rows as a sheet (per 1M tokens), e.g. after `chargeback prices import`."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(SHEET_COLUMNS)

    def text(value: Decimal | None) -> str:
        return "" if value is None else format(value.normalize(), "f")

    for row in rows:
        writer.writerow(
            [
                row.model,
                row.deployment_type.value,
                row.region,
                row.currency,
                "1M tokens",
                text(row.input_per_1m),
                text(row.cached_input_per_1m),
                text(row.output_per_1m),
                text(row.cache_write_per_1m),
                row.effective_from.isoformat() if row.effective_from else "",
                row.effective_to.isoformat() if row.effective_to else "",
                row.source,
            ]
        )
