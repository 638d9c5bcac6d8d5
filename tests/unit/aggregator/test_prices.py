"""The price sheet (units, validity ranges, bad rows) and `chargeback prices import` of Retail Prices responses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.errors import PriceSheetError
from aggregator.prices import load_price_sheet, parse_price_rows
from aggregator.settings import SHIPPED_PRICE_SHEET
from tests.unit.aggregator.cli_app import invoke

FIXTURE = Path(__file__).parent / "data" / "retail_prices_page.json"
HEADER = (
    "model,deployment_type,region,currency,unit,input,cached_input,output,cache_write,effective_from,effective_to\n"
)


def sheet(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "sheet.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_the_shipped_sheet_loads_with_explicit_units_and_sources():
    rows = load_price_sheet(SHIPPED_PRICE_SHEET)
    gpt41 = {r.deployment_type.value: r for r in rows if r.model == "gpt-4.1"}
    # Facts from the LiteLLM backup price JSON (per token): global input 2e-06, output 8e-06, cached 5e-07,
    # batch input 1e-06; the sheet states them per 1M tokens.
    assert (gpt41["global"].input_per_1m, gpt41["global"].output_per_1m) == (Decimal(2), Decimal(8))
    assert gpt41["global"].cached_input_per_1m == Decimal("0.5")
    assert gpt41["batch"].input_per_1m == Decimal(1)
    assert all(r.source and r.currency == "USD" for r in rows)


@given(st.decimals(min_value=0, max_value=1000, places=5, allow_nan=False, allow_infinity=False))
def test_per_1k_and_per_1m_sheets_agree_exactly(price_per_1k):
    per_1k = parse_price_rows(
        [
            {
                "model": "m",
                "deployment_type": "global",
                "region": "*",
                "currency": "USD",
                "unit": "1K tokens",
                "input": str(price_per_1k),
            }
        ],
        "t",
    )
    per_1m = parse_price_rows(
        [
            {
                "model": "m",
                "deployment_type": "global",
                "region": "*",
                "currency": "USD",
                "unit": "1M tokens",
                "input": str(price_per_1k * 1000),
            }
        ],
        "t",
    )
    assert per_1k[0].input_per_1m == per_1m[0].input_per_1m == price_per_1k * 1000


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("gpt-4.1,global,*,USD,per token,1,,,,,", "unit"),
        ("gpt-4.1,standard,*,USD,1M tokens,1,,,,,", "deployment type"),
        ("gpt-4.1,global,*,US,1M tokens,1,,,,,", "currency"),
        ("gpt-4.1,global,*,USD,1M tokens,-1,,,,,", "non-negative"),
        ("gpt-4.1,global,*,USD,1M tokens,abc,,,,,", "not a number"),
        ("gpt-4.1,global,*,USD,1M tokens,1,,,,2026-02-30,", "not a date"),
        ("gpt-4.1,global,*,USD,1M tokens,1,,,,2026-03-01,2026-02-01", "after"),
        ("gpt-4.1,global,*,USD,1M tokens,,,,,,", "required"),
    ],
)
def test_bad_rows_are_refused_with_the_line_named(tmp_path, row, message):
    with pytest.raises(PriceSheetError, match=message) as caught:
        load_price_sheet(sheet(tmp_path, row))
    assert "line 2" in str(caught.value)


def test_overlapping_versions_are_refused(tmp_path):
    path = sheet(
        tmp_path,
        "gpt-4.1,global,*,USD,1M tokens,2,,8,,2026-01-01,2026-06-01",
        "gpt-4.1,global,*,USD,1M tokens,1.8,,7.2,,2026-05-01,",
    )
    with pytest.raises(PriceSheetError, match="overlap"):
        load_price_sheet(path)


def test_import_converts_a_saved_retail_prices_response(tmp_path):
    out = tmp_path / "imported.csv"
    result = invoke(["prices", "import", str(FIXTURE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = {(r.model, r.deployment_type.value, r.region, r.effective_from): r for r in load_price_sheet(out)}
    first = rows[("gpt-4.1", "global", "eastus2", date(2025, 4, 14))]
    # input was given per 1M (0.002 per 1M is what the fixture says), cached and output per 1K.
    assert (first.input_per_1m, first.cached_input_per_1m, first.output_per_1m) == (
        Decimal("0.002"),
        Decimal("0.5"),
        Decimal("8"),
    )
    assert first.effective_to == date(2026, 11, 15), "a new output price starts a new version"
    second = rows[("gpt-4.1", "global", "eastus2", date(2026, 11, 15))]
    assert (second.input_per_1m, second.output_per_1m, second.effective_to) == (Decimal("0.002"), Decimal("7.2"), None)
    data_zone = rows[("gpt-4.1", "data_zone", "swedencentral", date(2025, 4, 14))]
    assert (data_zone.input_per_1m, data_zone.output_per_1m) == (Decimal("2.2"), Decimal("8.8"))
    batch = rows[("gpt-4.1", "batch", "eastus2", date(2025, 4, 14))]
    assert (batch.input_per_1m, batch.output_per_1m) == (Decimal("1"), Decimal("4"))
    assert len(rows) == 4
    assert "skipped" in result.output and "Reservation" in result.output


def test_import_renames_and_collapses_regions(tmp_path):
    result = invoke(["prices", "import", str(FIXTURE), "--rename", "gpt-4.1=gpt-4.1-custom", "--any-region"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("gpt-4.1-custom,")]
    assert lines and all(",*," in line for line in lines)


def test_import_of_something_else_fails_clearly(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"value": []}')
    result = invoke(["prices", "import", str(bad)])
    assert result.exit_code == 6
    assert "Items" in result.output
    assert invoke(["prices", "import", str(tmp_path / "missing.json")]).exit_code == 4  # input not found


def test_a_malformed_rename_is_a_usage_error():
    result = invoke(["prices", "import", str(FIXTURE), "--rename", "no-equals-sign"])
    assert result.exit_code == 2 and "METER_MODEL=RESPONSE_MODEL" in result.output
