"""`prices import` on real data (issue 14, deliverable 4): the meter-name forms the Azure Retail Prices API returns,
one fixture item per form (tests/unit/aggregator/data/retail_meter_forms.json, names collected from public sources
quoting the API), every skipped meter named with its reason, and meter models mapped to response models."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from aggregator.deployment_types import DeploymentType
from aggregator.prices import load_price_sheet
from aggregator.retail_prices import Meter, parse_meter
from tests.unit.aggregator.cli_app import invoke

FORMS = Path(__file__).parent / "data" / "retail_meter_forms.json"
G, DZ, R, B = DeploymentType.GLOBAL, DeploymentType.DATA_ZONE, DeploymentType.REGIONAL, DeploymentType.BATCH


def item(name: str, unit: str = "1K", price: str = "0.001", kind: str = "Consumption") -> dict:
    return {
        "meterName": name,
        "unitOfMeasure": unit,
        "retailPrice": Decimal(price),
        "currencyCode": "USD",
        "armRegionName": "eastus2",
        "effectiveStartDate": "2025-04-14T00:00:00Z",
        "type": kind,
    }


@pytest.mark.parametrize(
    ("name", "model", "deployment_type", "token_class"),
    [
        ("gpt-4o-mini-0718-Inp-glbl Tokens", "gpt-4o-mini-2024-07-18", G, "input"),
        ("gpt-4o-mini-0718-Outp-glbl Tokens", "gpt-4o-mini-2024-07-18", G, "output"),
        ("gpt-4o-mini-0718-Batch-Inp-glbl Tokens", "gpt-4o-mini-2024-07-18", B, "input"),
        ("gpt-4o-0806-Inp-regnl Tokens", "gpt-4o-2024-08-06", R, "input"),
        ("gpt 4o 0806 cached Inp glbl Tokens", "gpt-4o-2024-08-06", G, "cached_input"),
        ("gpt 4.1 Inp glbl Tokens", "gpt-4.1", G, "input"),
        ("gpt 4.1 cchd Inp glbl Tokens", "gpt-4.1", G, "cached_input"),
        ("gpt 4.1 Inp rgnl Tokens", "gpt-4.1", R, "input"),
        ("gpt 4.1 Outp DZone Tokens", "gpt-4.1", DZ, "output"),
        ("gpt-4.1 Inp Data Zone Tokens", "gpt-4.1", DZ, "input"),
        ("GPT 5 Chat Inpt Glbl 1M Tokens", "gpt-5-chat", G, "input"),
        ("GPT 5 Chat outpt Glbl 1M Tokens", "gpt-5-chat", G, "output"),
        ("GPT 5 Chat cchd Inpt Glbl 1M Tokens", "gpt-5-chat", G, "cached_input"),
        ("GPT 5 Mini Inpt DZone 1M Tokens", "gpt-5-mini", DZ, "input"),
        ("V4 Flash cached DZ Tokens", "v4-flash", DZ, "cached_input"),
        ("GPT 5.1 inp Rg 1M Tokens", "gpt-5.1", R, "input"),
        ("5.4 mini inp Gl 1M Tokens", "gpt-5.4-mini", G, "input"),
        ("5.4 mini cd Inp Gl 1M Tokens", "gpt-5.4-mini", G, "cached_input"),
        ("5.4 mini Opt Gl 1M Tokens", "gpt-5.4-mini", G, "output"),
        ("5.6 sol ShortCo Inp Std Gl 1M Tokens", "gpt-5.6-sol", G, "input"),
        ("5.6 sol ShortCo Cd Wr Std Gl 1M Tokens", "gpt-5.6-sol", G, "cache_write"),
        ("gpt-5-codex-ccchd-inp-glbl Tokens", "gpt-5-codex", G, "cached_input"),
        ("o1 mini cached input glbl Tokens", "o1-mini", G, "cached_input"),
        ("o3-deep research 0626-inp-glbl 1M Tokens", "o3-deep-research-2025-06-26", G, "input"),
        ("gpt 4.5 0227 Inp glbl Tokens", "gpt-4.5-preview-2025-02-27", G, "input"),
        ("text-embedding-3-large-glbl Tokens", "text-embedding-3-large", G, "input"),
    ],
)
def test_each_real_meter_name_form_is_recognised(name, model, deployment_type, token_class):
    parsed = parse_meter(item(name), {})
    assert isinstance(parsed, Meter), parsed
    assert (parsed.model, parsed.deployment_type, parsed.token_class) == (model, deployment_type, token_class)


@pytest.mark.parametrize(
    ("name", "unit", "kind", "reason"),
    [
        ("5.6 sol LongCo Inp Std Gl 1M Tokens", "1M", "Consumption", "long-context band"),
        ("5.4 pp inp Gl 1M Tokens", "1M", "Consumption", "priority processing"),
        ("gpt-4o-mini-0718-FT-inp-glbl Tokens", "1K", "Consumption", "fine-tuning"),
        ("gpt 4.1 dev ft training glbl Tokens", "1K", "Consumption", "fine-tuning"),
        ("gpt-4o-rt-aud-1217 Inp glbl Tokens", "1K", "Consumption", "audio, image or realtime"),
        ("gpt-35-turbo16K-0125 Inp-glbl Tokens", "1K", "Consumption", "--rename gpt-35-turbo16k-0125="),
        ("Image-Dall-E-3 HD HighRes-glbl Images", "100", "Consumption", "not a per-token meter"),
        ("gpt 4o 0806 Inp glbl Tokens", "1K", "Reservation", "type Reservation"),
    ],
)
def test_meters_that_cannot_be_priced_per_token_say_why(name, unit, kind, reason):
    parsed = parse_meter(item(name, unit, kind=kind), {})
    assert isinstance(parsed, str) and reason in parsed


def test_a_rename_still_wins_for_an_unknown_version():
    parsed = parse_meter(item("gpt-35-turbo16K-0125 Inp-glbl Tokens"), {"gpt-35-turbo16k-0125": "gpt-35-turbo"})
    assert isinstance(parsed, Meter) and parsed.model == "gpt-35-turbo"


def test_importing_every_form_accounts_for_every_item_by_name(tmp_path):
    out = tmp_path / "sheet.csv"
    result = invoke(["prices", "import", str(FORMS), "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = [i["meterName"] for i in json.loads(FORMS.read_text())["Items"]]
    skipped = [line for line in result.output.splitlines() if line.startswith("skipped '")]
    sheet = {(r.model, r.deployment_type.value, r.region): r for r in load_price_sheet(out)}
    # Each skipped item is named once with its reason; the others are in the sheet.
    assert len(skipped) == 11
    for name in ("5.6 sol LongCo Inp Std Gl 1M Tokens", "V4 Flash cached DZ Tokens", "Provisioned Managed Global Unit"):
        assert any(line.startswith(f"skipped {name!r}: ") for line in skipped), name
    assert len(names) - len(skipped) == 20
    mini = sheet[("gpt-4o-mini-2024-07-18", "global", "eastus2")]
    assert (mini.input_per_1m, mini.output_per_1m, mini.effective_from) == (
        Decimal("0.165"),
        Decimal("0.66"),
        date(2025, 4, 14),
    ), "per-1K meters converted exactly to per 1M"
    sol = sheet[("gpt-5.6-sol", "global", "eastus2")]
    assert (sol.input_per_1m, sol.cache_write_per_1m) == (Decimal("2.5"), Decimal("3.125"))
    assert ("gpt-5.4-mini", "global", "eastus2") in sheet and ("gpt-4o-2024-08-06", "regional", "eastus2") in sheet
