"""`chargeback prices import`: turn saved Azure Retail Prices API responses into a price sheet (no network).

Input: one or more JSON files as `GET https://prices.azure.com/api/retail/prices?...` returns them
(`{"BillingCurrency", "Items": [...], "NextPageLink", "Count"}`; a JSON list of such pages, or a bare list of items,
is accepted too). Each item is one meter: `meterName`, `skuName`, `unitOfMeasure`, `retailPrice`, `currencyCode`,
`armRegionName`, `effectiveStartDate`, `type`.

Only `Consumption` meters priced per token are converted. The meter name says the token class (`Inp`/`Input`,
`cchd`/`Cached`, `Outp`/`Output`, `cache write`) and the deployment type (`glbl`/`Global`, `DZone`/`Data Zone`,
`regnl`/`Regional`, `Batch`); the remaining words are the model (`gpt 4.1` -> `gpt-4.1`; `--rename` maps a
meter's model name to the name responses carry). `unitOfMeasure` `1K` / `1M` / `1` is converted exactly to per
1M tokens: the 1000x bug of mixing them is impossible by construction. Prices are JSON-parsed as decimals, never
floats. Every item skipped is counted with its reason.

Versions: for each model x deployment type x region x currency, every distinct `effectiveStartDate` of any of its
meters starts a version, which uses the latest price of each class in force on that date; it ends where the next
version starts.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from aggregator.deployment_types import ANY_REGION, DeploymentType, normalize_region
from aggregator.errors import PriceSheetError, RetailPricesError
from aggregator.prices import PriceRow, parse_price_rows

UNIT_TO_PER_1M = {"1": Decimal(1_000_000), "1k": Decimal(1000), "1m": Decimal(1)}
TYPE_WORDS: dict[str, DeploymentType] = {
    "glbl": DeploymentType.GLOBAL,
    "global": DeploymentType.GLOBAL,
    "gl": DeploymentType.GLOBAL,
    "dzone": DeploymentType.DATA_ZONE,
    "datazone": DeploymentType.DATA_ZONE,
    "dz": DeploymentType.DATA_ZONE,
    "regnl": DeploymentType.REGIONAL,
    "regional": DeploymentType.REGIONAL,
    "rgnl": DeploymentType.REGIONAL,
}
CLASS_WORDS = {
    "inp": "input",
    "input": "input",
    "outp": "output",
    "output": "output",
    "out": "output",
    "cchd": "cached_input",
    "cached": "cached_input",
    "cache": "cached_input",
}
NOISE_WORDS = {"tokens", "token", "tkns", "standard", "std", "1m", "1k"}


@dataclass
class ImportReport:
    rows: list[PriceRow] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    meters: int = 0


@dataclass(frozen=True)
class Meter:
    model: str
    deployment_type: DeploymentType
    token_class: str
    region: str
    currency: str
    start: date
    per_1m: Decimal


def _items(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict):
        if not isinstance(document.get("Items"), list):
            raise RetailPricesError("a Retail Prices response has an 'Items' list; this object has none")
        return document["Items"]
    if isinstance(document, list):
        items: list[dict[str, Any]] = []
        for element in document:
            items.extend(_items(element) if isinstance(element, dict) and "Items" in element else [element])
        return items
    raise RetailPricesError("expected a Retail Prices response object or a list of them")


def parse_meter(item: dict[str, Any], renames: dict[str, str]) -> Meter | str:
    """A per-token meter, or the reason the item is skipped."""
    if not isinstance(item, dict):
        return "not an object"
    if item.get("type") not in (None, "Consumption"):
        return f"type {item.get('type')} (only Consumption is priced per token)"
    unit = str(item.get("unitOfMeasure", "")).strip().lower()
    name = str(item.get("meterName") or item.get("skuName") or "")
    if unit not in UNIT_TO_PER_1M or "token" not in name.lower():
        return f"not a per-token meter (unit {item.get('unitOfMeasure')!r})"
    words = [w for w in re.split(r"[\s_]+", name.lower().replace("data zone", "datazone")) if w]
    if "write" in words:
        token_class = "cache_write"
        words = [w for w in words if w not in ("write", "cache")]
    else:
        classes = {CLASS_WORDS[w] for w in words if w in CLASS_WORDS}
        token_class = "cached_input" if "cached_input" in classes else classes.pop() if len(classes) == 1 else ""
        if not token_class:
            return "meter name names no token class"
    batch = "batch" in words
    types = {TYPE_WORDS[w] for w in words if w in TYPE_WORDS}
    if batch:
        deployment_type = DeploymentType.BATCH
    elif len(types) == 1:
        deployment_type = types.pop()
    else:
        return "meter name names no deployment type"
    model_words = [w for w in words if w not in TYPE_WORDS and w not in CLASS_WORDS and w not in NOISE_WORDS]
    model_words = [w for w in model_words if w != "batch"]
    if not model_words:
        return "meter name names no model"
    model = "-".join(model_words)
    model = renames.get(model, model)
    try:
        price = item["retailPrice"]
        per_1m = Decimal(str(price)) * UNIT_TO_PER_1M[unit]
        start = date.fromisoformat(str(item["effectiveStartDate"])[:10])
    except (KeyError, ValueError, ArithmeticError):
        return "missing or malformed retailPrice / effectiveStartDate"
    currency = str(item.get("currencyCode") or "").upper()
    region = normalize_region(str(item.get("armRegionName") or "")) or ANY_REGION
    return Meter(model, deployment_type, token_class, region, currency, start, per_1m)


def import_retail_prices(paths: list[Path], *, renames: dict[str, str], any_region: bool) -> ImportReport:
    report = ImportReport()
    meters: list[Meter] = []
    for path in paths:
        try:
            document = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except (OSError, ValueError) as exc:
            raise RetailPricesError(f"{path}: cannot read a JSON response: {exc}") from None
        for item in _items(document):
            parsed = parse_meter(item, renames)
            if isinstance(parsed, str):
                report.skipped[parsed] += 1
            else:
                meters.append(parsed)
    report.meters = len(meters)
    report.rows = _versions(meters, any_region, ", ".join(p.name for p in paths))
    return report


def _versions(meters: list[Meter], any_region: bool, origin: str) -> list[PriceRow]:
    groups: dict[tuple[str, DeploymentType, str, str], dict[str, dict[date, Decimal]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for meter in meters:
        region = ANY_REGION if any_region else meter.region
        prices = groups[(meter.model, meter.deployment_type, region, meter.currency)][meter.token_class]
        if prices.get(meter.start, meter.per_1m) != meter.per_1m:
            raise RetailPricesError(
                f"{meter.model} {meter.deployment_type.value} {meter.token_class} has two prices from {meter.start}"
                + (" in different regions: drop --any-region" if any_region else "")
            )
        prices[meter.start] = meter.per_1m
    sheet: list[dict[str, str]] = []
    for (model, deployment_type, region, currency), classes in sorted(groups.items()):
        starts = sorted({d for prices in classes.values() for d in prices})
        for i, start in enumerate(starts):

            def in_force(token_class: str, start: date = start, classes: dict = classes) -> str:
                prices = classes.get(token_class, {})
                known = [d for d in prices if d <= start]
                return format(prices[max(known)].normalize(), "f") if known else ""

            if not in_force("input"):
                continue
            sheet.append(
                {
                    "model": model,
                    "deployment_type": deployment_type.value,
                    "region": region,
                    "currency": currency,
                    "unit": "1M tokens",
                    "input": in_force("input"),
                    "cached_input": in_force("cached_input"),
                    "output": in_force("output"),
                    "cache_write": in_force("cache_write"),
                    "effective_from": start.isoformat(),
                    "effective_to": starts[i + 1].isoformat() if i + 1 < len(starts) else "",
                    "source": f"Azure Retail Prices API ({origin})",
                }
            )
    try:
        return parse_price_rows(sheet, "imported sheet")
    except PriceSheetError as exc:
        raise RetailPricesError(str(exc)) from None
