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
    "rg": DeploymentType.REGIONAL,
}
CLASS_WORDS = {
    "inp": "input",
    "inpt": "input",
    "input": "input",
    "in": "input",
    "outp": "output",
    "outpt": "output",
    "output": "output",
    "out": "output",
    "opt": "output",
}
CACHED_WORDS = {"cached", "cchd", "ccchd", "cd", "cache"}
WRITE_WORDS = {"wr", "write"}
NOISE_WORDS = {"tokens", "token", "tkn", "tkns", "standard", "std", "1m", "1k", "shortco"}
SKIP_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("ft", "training", "trng", "hstng", "hosting"), "fine-tuning meter (training, hosting or fine-tuned model)"
    ),
    **dict.fromkeys(
        ("aud", "audio", "realtime", "realtimeprvw", "rt", "tts", "transcribe", "img", "image"),
        "audio, image or realtime meter (usage records count text tokens only)",
    ),
    "pp": "priority processing meter (usage records do not say which calls used it)",
    "longco": "long-context band (usage records carry no context band; the short-context price is imported)",
}
KNOWN_VERSIONS: dict[tuple[str, str], str] = {
    ("gpt-4o", "0513"): "2024-05-13",
    ("gpt-4o", "0806"): "2024-08-06",
    ("gpt-4o", "1120"): "2024-11-20",
    ("gpt-4o-mini", "0718"): "2024-07-18",
    ("o1", "1217"): "2024-12-17",
    ("o1-mini", "0912"): "2024-09-12",
    ("o3-mini", "0131"): "2025-01-31",
    ("o3", "0416"): "2025-04-16",
    ("o4-mini", "0416"): "2025-04-16",
    ("gpt-4.1", "0414"): "2025-04-14",
    ("gpt-4.1-mini", "0414"): "2025-04-14",
    ("gpt-4.1-nano", "0414"): "2025-04-14",
    ("gpt-4.5", "0227"): "2025-02-27",
    ("o3-deep-research", "0626"): "2025-06-26",
    ("gpt-5", "0807"): "2025-08-07",
}
"""Meter version (MMDD) -> the model version as responses name it (`gpt-4o-mini-0718` -> `gpt-4o-mini-2024-07-18`).
Azure OpenAI model versions from Microsoft Learn's model tables; a version not listed is skipped, named, with the
`--rename` that would price it."""
MODEL_ALIASES = {"gpt-4.5": "gpt-4.5-preview", "gpt4o": "gpt-4o", "gpt4o-mini": "gpt-4o-mini"}
"""Meter model names that differ from what responses carry for reasons other than spelling."""


@dataclass
class ImportReport:
    rows: list[PriceRow] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_meters: list[tuple[str, str]] = field(default_factory=list)
    """Every item not imported: (meter name, reason)."""
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
    name: str = ""


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


def meter_words(name: str) -> list[str]:
    """A meter name as lower-case words: spaces, underscores and hyphens all separate (`gpt-4o-mini-0718-Inp-glbl
    Tokens` and `gpt 4o mini 0718 Inp glbl Tokens` give the same words); `Data Zone` is one word."""
    text = name.lower().replace("data zone", "datazone")
    return [w for w in re.split(r"[\s_\-]+", text) if w]


def meter_model(words: list[str]) -> tuple[str, str | None]:
    """The model words joined as responses spell models (`gpt 4.1` -> `gpt-4.1`, `5.4 mini` -> `gpt-5.4-mini`) and
    the meter's version suffix (`0718`), if any."""
    version = None
    if words and re.fullmatch(r"\d{4}", words[-1]):
        version = words[-1]
        words = words[:-1]
    model = "-".join(words)
    if words and words[0][0].isdigit():
        model = "gpt-" + model  # newer meters drop the family name: '5.4 mini inp Gl' is gpt-5.4-mini
    return MODEL_ALIASES.get(model, model), version


def parse_meter(item: dict[str, Any], renames: dict[str, str]) -> Meter | str:
    """A per-token meter, or the reason the item is skipped."""
    if not isinstance(item, dict):
        return "not an object"
    if item.get("type") not in (None, "Consumption"):
        return f"type {item.get('type')} (only Consumption is priced per token)"
    unit = str(item.get("unitOfMeasure", "")).strip().lower().removesuffix(" tokens")
    name = str(item.get("meterName") or item.get("skuName") or "")
    words = meter_words(name)
    if unit not in UNIT_TO_PER_1M or not {"tokens", "token", "tkn", "tkns"} & set(words):
        return f"not a per-token meter (unit {item.get('unitOfMeasure')!r})"
    for word in words:
        if word in SKIP_WORDS:
            return SKIP_WORDS[word]
    words = [w for w in words if w not in NOISE_WORDS]
    cached = bool(CACHED_WORDS & set(words))
    write = bool(WRITE_WORDS & set(words))
    classes = {CLASS_WORDS[w] for w in words if w in CLASS_WORDS}
    if write and cached:
        token_class = "cache_write"
    elif cached:
        token_class = "cached_input"
    elif len(classes) == 1:
        token_class = classes.pop()
    else:
        token_class = ""
    types = {TYPE_WORDS[w] for w in words if w in TYPE_WORDS}
    batch = "batch" in words
    rest = [
        w
        for w in words
        if w not in TYPE_WORDS
        and w not in CLASS_WORDS
        and w not in CACHED_WORDS
        and w not in WRITE_WORDS
        and w != "batch"
    ]
    if not rest:
        return "meter name names no model"
    model, version = meter_model(rest)
    if not token_class:
        if "embedding" in rest and not classes:
            token_class = "input"  # embeddings meters name no class: they bill input tokens only
        else:
            return "meter name names no token class"
    if batch:
        deployment_type = DeploymentType.BATCH
    elif len(types) == 1:
        deployment_type = types.pop()
    else:
        return "meter name names no deployment type"
    meter_name = f"{model}-{version}" if version else model
    if meter_name in renames:
        model = renames[meter_name]
    elif version:
        known = KNOWN_VERSIONS.get((model, version)) or KNOWN_VERSIONS.get((rest_model(rest), version))
        if known is None:
            return f"unknown version {version} of {model}: add --rename {meter_name}=RESPONSE_MODEL"
        model = f"{model}-{known}"
    else:
        model = renames.get(model, model)
    try:
        price = item["retailPrice"]
        per_1m = Decimal(str(price)) * UNIT_TO_PER_1M[unit]
        start = date.fromisoformat(str(item["effectiveStartDate"])[:10])
    except (KeyError, ValueError, ArithmeticError):
        return "missing or malformed retailPrice / effectiveStartDate"
    currency = str(item.get("currencyCode") or "").upper()
    region = normalize_region(str(item.get("armRegionName") or "")) or ANY_REGION
    return Meter(model, deployment_type, token_class, region, currency, start, per_1m, name)


def rest_model(words: list[str]) -> str:
    """The model words without alias mapping (a version table key spelled as the meter spells it)."""
    return "-".join(w for w in words if not re.fullmatch(r"\d{4}", w))


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
                name = item.get("meterName") or item.get("skuName") if isinstance(item, dict) else None
                report.skipped_meters.append((str(name or "(no meterName)"), parsed))
            else:
                meters.append(parsed)
    report.meters = len(meters)
    report.rows = _versions(meters, any_region, ", ".join(p.name for p in paths))
    priced = {(r.model, r.deployment_type, r.region, r.currency) for r in report.rows}
    for meter in meters:
        region = ANY_REGION if any_region else meter.region
        if (meter.model, meter.deployment_type, region, meter.currency) not in priced:
            reason = (
                f"no input price for {meter.model} {meter.deployment_type.value} in {region}: a sheet row needs one"
            )
            report.skipped[reason] += 1
            report.skipped_meters.append((meter.name, reason))
    report.meters -= sum(1 for _, r in report.skipped_meters if r.startswith("no input price"))
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
