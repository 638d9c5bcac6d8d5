"""Money exact on every path (issue 14, deliverable 3): PTU shares billed exactly in FOCUS at any rate precision,
unpriced means NULL (tables, report, FOCUS), a record without a token split leaves only its own tokens unpriced,
one currency per report/export, and a month with usage but no roll-up is refused."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from aggregator.fx import FxRatesError, parse_fx
from aggregator.money import cents
from tests.unit.aggregator.billing_lake import BillingLake
from tests.unit.aggregator.cli_app import invoke
from tests.unit.aggregator.lake_builder import usage_row

DAY = date(2026, 11, 10)
DAY2 = date(2026, 11, 11)
T = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 11, 9, 0, tzinfo=UTC)
TEAMS = "subscription_id,team,shared_teams\nsub-1,platform,a;b;c\n"


def ptu_config(rate: str) -> str:
    return (
        '{"provisioned": [{"deployment": "gpt-4.1-ptu", "ptu_count": 7, "hourly_rate": "' + rate + '", '
        '"currency": "USD", "effective_from": "2026-11-01", "effective_to": null}]}'
    )


@pytest.mark.parametrize("rate", ["1.23457", "0.98765432101234"])
def test_focus_bills_each_ptu_share_exactly_at_any_rate_precision(tmp_path, rate):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS, ptu=ptu_config(rate))
    lake.usage(
        [
            usage_row(when=T, team=team, deployment="gpt-4.1-ptu", prompt=prompt, completion=7)
            for team, prompt in (("a", 1000), ("b", 2001), ("c", 333))
        ]
        + [usage_row(when=T, team="a", deployment="gpt-4.1", model="gpt-4.1", prompt=123_457, completion=999)]
    )
    lake.aggregate(DAY, DAY2)  # DAY2: an idle PTU day
    daily = lake.table("chargeback_daily", DAY) + lake.table("chargeback_daily", DAY2)
    day_cost = Decimal(7) * Decimal(rate) * 24
    assert sum(r["ptu_cost"] for r in lake.table("chargeback_daily", DAY)) == day_cost, "shares add up exactly"
    for suffix in ("parquet", "csv"):
        out = tmp_path / f"focus.{suffix}"
        result = lake.run("export", "focus", "--month", "2026-11", "--out", str(out))
        assert result.exit_code == 0, result.output
        if suffix == "parquet":
            focus = pq.read_table(out).to_pylist()
            billed = [(r["x_Team"], r["BilledCost"]) for r in focus if r["PricingUnit"] == "PTU Allocation"]
        else:
            with out.open(newline="") as handle:
                focus = list(csv.DictReader(handle))
            billed = [
                (r["x_Team"] or None, Decimal(r["BilledCost"])) for r in focus if r["PricingUnit"] == "PTU Allocation"
            ]
        expected = [(r["team"], r["ptu_cost"]) for r in daily if r["ptu_cost"]]
        assert sorted(billed, key=str) == sorted(expected, key=str), "each PTU row bills its allocated ptu_cost"
        total = sum(Decimal(str(r["BilledCost"])) for r in focus)
        assert total == sum(r["total_cost"] for r in daily if r["total_cost"] is not None)


def test_unpriced_means_null_for_ptu_cost_too(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS)  # no PTU config at all
    lake.usage([usage_row(when=T, team="a", deployment="gpt-4.1-ptu", prompt=1000, completion=10)])
    lake.aggregate(DAY)
    (row,) = lake.table("chargeback_daily", DAY)
    assert (row["pricing_status"], row["unpriced_reason"]) == ("unpriced", "no_ptu_config")
    assert row["ptu_cost"] is None and row["token_cost"] is None and row["total_cost"] is None
    (listed,) = lake.table("unpriced", DAY)
    assert listed["unpriced_tokens"] == 1010


def test_a_record_without_a_token_split_leaves_only_its_own_tokens_unpriced(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS)
    split = usage_row(when=T, team="a", deployment="gpt-4.1", model="gpt-4.1", prompt=1_000_000, completion=250_000)
    unsplit = usage_row(when=T, team="a", deployment="gpt-4.1", model="gpt-4.1", prompt=None, completion=None)
    unsplit.update(total_tokens=4321, usage_source="reported", status_code=200, error_code=None)
    lake.usage([split, unsplit])
    lake.aggregate(DAY)
    rows = {r["pricing_status"]: r for r in lake.table("chargeback_daily", DAY)}
    assert set(rows) == {"priced", "unpriced"}
    # The old price (2.00 / 8.00 per 1M until 2026-11-15): 2.00 + 2.00.
    assert rows["priced"]["total_cost"] == Decimal("4.00") and rows["priced"]["requests"] == 1
    assert rows["unpriced"]["unpriced_reason"] == "tokens_not_split" and rows["unpriced"]["total_cost"] is None
    (listed,) = lake.table("unpriced", DAY)
    assert (listed["reason"], listed["unpriced_tokens"], listed["requests"]) == ("tokens_not_split", 4321, 1)


MIXED_SHEET = """\
model,deployment_type,region,currency,unit,input,cached_input,output,cache_write,effective_from,effective_to,source
gpt-4.1,global,*,USD,1M tokens,2.00,0.50,8.00,,,,test
o4-mini,global,*,EUR,1M tokens,1.00,0.25,4.00,,,,test
"""


def test_one_currency_per_report_and_export_or_a_refusal_naming_rows(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS, sheet=MIXED_SHEET)
    lake.usage(
        [
            usage_row(when=T, team="a", deployment="gpt-4.1", model="gpt-4.1", prompt=1000, completion=10),
            usage_row(when=T, team="b", deployment="o4-mini", model="o4-mini", prompt=1000, completion=10),
        ]
    )
    lake.aggregate(DAY)
    for args in (
        ["report", "--month", "2026-11", "--out", str(tmp_path / "r.html")],
        ["export", "focus", "--month", "2026-11", "--out", str(tmp_path / "f.csv")],
    ):
        result = lake.run(*args)
        assert result.exit_code == 6, result.output
        message = " ".join(result.output.split())
        assert "error: the" in message and "different currencies" in message
        assert "EUR: 2026-11-10 o4-mini" in message and "USD: 2026-11-10 gpt-4.1" in message
        assert "Traceback" not in result.output
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "f.csv").exists()


def test_a_month_with_usage_but_no_roll_up_is_refused_in_one_line(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS)
    lake.usage(
        [usage_row(when=T, team="a", prompt=10, completion=1), usage_row(when=T2, team="a", prompt=1, completion=1)]
    )
    lake.aggregate(DAY)  # DAY2 never aggregated
    for args in (
        ["report", "--month", "2026-11", "--out", str(tmp_path / "r.html")],
        ["export", "focus", "--month", "2026-11", "--out", str(tmp_path / "f.csv")],
    ):
        result = lake.run(*args)
        assert result.exit_code == 4, result.output
        assert "never aggregated (2026-11-11)" in " ".join(result.output.split())
        assert "Traceback" not in result.output
    empty = lake.run("report", "--month", "2026-10", "--out", str(tmp_path / "oct.html"))
    assert empty.exit_code == 4 and "no usage and no roll-up" in " ".join(empty.output.split())
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "oct.html").exists()


def test_the_report_says_unpriced_never_zero(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS)
    lake.usage(
        [
            usage_row(when=T, team="c", deployment="mystery", model="mystery-model", prompt=1000, completion=10),
            usage_row(when=T, team="a", deployment="gpt-4.1", model="gpt-4.1", prompt=1_000_000, completion=0),
            usage_row(when=T, team="a", deployment="rogue", model="gpt-4.1", prompt=5, completion=5),
        ]
    )
    lake.aggregate(DAY)
    out = tmp_path / "r.html"
    result = lake.run("report", "--month", "2026-11", "--out", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert '<td>c</td><td class="n">unpriced</td>' in html, "a team with only unpriced usage reads 'unpriced'"
    assert '<td>a</td><td class="n">2.00 + unpriced</td>' in html, "priced part shown, the rest said"
    assert '<td>mystery-model</td><td class="n">unpriced</td>' in html
    assert "0.00</td>" not in html


FX = """\
from_currency,to_currency,rate,effective_from,effective_to
EUR,USD,1.0912345678,2026-11-01,2026-11-11
"""


def test_with_exchange_rates_a_report_and_an_export_convert_exactly_into_one_currency(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS, sheet=MIXED_SHEET)
    lake.usage(
        [
            usage_row(when=T, team="a", deployment="gpt-4.1", model="gpt-4.1", prompt=1_000_000, completion=10),
            usage_row(when=T, team="b", deployment="o4-mini", model="o4-mini", prompt=3_000_001, completion=7),
        ]
    )
    lake.aggregate(DAY)
    (tmp_path / "fx.csv").write_text(FX)
    env = lake.env() | {"CHARGEBACK_FX_RATES": str(tmp_path / "fx.csv")}
    daily = {r["currency"]: r["total_cost"] for r in lake.table("chargeback_daily", DAY)}
    want = daily["USD"] + daily["EUR"] * Decimal("1.0912345678")

    out = tmp_path / "focus.parquet"
    result = invoke(["export", "focus", "--month", "2026-11", "--out", str(out)], env)
    assert result.exit_code == 0, result.output
    focus = pq.read_table(out).to_pylist()
    assert {r["BillingCurrency"] for r in focus} == {"USD"}
    assert sum(r["BilledCost"] for r in focus) == want, "converted exactly, no rounding"
    eur = [r for r in focus if r["PricingCurrency"] == "EUR"]
    assert eur and sum(r["PricingCurrencyEffectiveCost"] for r in eur) == daily["EUR"]
    assert all(r["ListCost"] == r["ListUnitPrice"] * r["PricingQuantity"] for r in focus)

    report = tmp_path / "r.html"
    result = invoke(["report", "--month", "2026-11", "--out", str(report)], env)
    assert result.exit_code == 0, result.output
    assert f"Total cost<b>{cents(want):,.2f}</b>" in report.read_text()
    assert "Currency USD." in report.read_text()


def test_a_currency_without_a_rate_on_its_day_is_refused(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS, sheet=MIXED_SHEET)
    when = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)  # after the EUR rate's effective_to
    lake.usage([usage_row(when=when, team="b", deployment="o4-mini", model="o4-mini", prompt=10, completion=1)])
    lake.aggregate(date(2026, 11, 12))
    (tmp_path / "fx.csv").write_text(FX)
    env = lake.env() | {"CHARGEBACK_FX_RATES": str(tmp_path / "fx.csv")}
    for args in (
        ["report", "--month", "2026-11", "--out", str(tmp_path / "r.html")],
        ["export", "focus", "--month", "2026-11", "--out", str(tmp_path / "f.csv")],
    ):
        result = invoke(args, env)
        assert result.exit_code == 6, result.output
        assert "no exchange rate into USD" in " ".join(result.output.split())
        assert "2026-11-12 o4-mini" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("from_currency,rate\nEUR,1.1\n", "needs the columns"),
        ("from_currency,to_currency,rate\nEUR,USD,1.1\nGBP,EUR,1.2\n", "exactly one billing currency"),
        ("from_currency,to_currency,rate\nEUR,USD,-1\n", "positive number"),
        ("from_currency,to_currency,rate\nEUR,USD,1.12345678901\n", "at most 10 decimals"),
        ("from_currency,to_currency,rate\nEURO,USD,1.1\n", "ISO 4217"),
        (
            "from_currency,to_currency,rate,effective_from,effective_to\nEUR,USD,1.1,,2026-11-10\nEUR,USD,1.2,2026-11-01,\n",
            "overlap",
        ),
    ],
)
def test_a_broken_exchange_rate_file_is_refused(text, message):
    with pytest.raises(FxRatesError, match=message):
        parse_fx(text, "fx.csv")
