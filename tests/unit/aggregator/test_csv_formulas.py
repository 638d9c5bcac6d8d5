"""Outputs safe to open (issue 14, deliverable 5): CSV meant for people neutralises spreadsheet formulas the OWASP
way (a single quote in front of a leading = + - @ tab or CR); Parquet keeps the exact values."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from aggregator.csvsafe import neutralise, neutralise_table
from tests.unit.aggregator.billing_lake import BillingLake
from tests.unit.aggregator.lake_builder import usage_row

DAY = date(2026, 11, 10)
T = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)", "\t=1", "\r=1"]


def test_each_formula_start_is_prefixed_and_nothing_else_changes():
    for value in HOSTILE:
        assert neutralise(value) == "'" + value
    for value in ("search", "CC-1001", "a=b", " =1", "", None):
        assert neutralise(value) == value
    table = pa.table({"text": [*HOSTILE, "plain", None], "n": list(range(len(HOSTILE) + 2))})
    out = neutralise_table(table)
    assert out.column("text").to_pylist() == ["'" + v for v in HOSTILE] + ["plain", None]
    assert out.column("n").equals(table.column("n")), "numbers are never touched"


def lake_with_hostile_subscription_names(tmp_path) -> BillingLake:
    teams = "subscription_id,team\n" + "".join(f"sub-{i},team-{i}\n" for i in range(len(HOSTILE)))
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams=teams)
    rows = []
    for i, name in enumerate(HOSTILE):
        row = usage_row(when=T, subscription=f"sub-{i}", deployment="gpt-4.1", model="gpt-4.1", prompt=10, completion=1)
        row["subscription_name"] = name  # APIM subscription display names are free text set by whoever created them
        rows.append(row)
    lake.usage(rows)
    lake.aggregate(DAY)
    return lake


def test_focus_csv_neutralises_and_focus_parquet_stays_exact(tmp_path):
    lake = lake_with_hostile_subscription_names(tmp_path)
    out = tmp_path / "focus.csv"
    assert lake.run("export", "focus", "--month", "2026-11", "--out", str(out)).exit_code == 0
    with out.open(newline="") as handle:
        names = {r["SubAccountName"] for r in csv.DictReader(handle)}
    assert names == {"'" + v for v in HOSTILE}
    parquet = tmp_path / "focus.parquet"
    assert lake.run("export", "focus", "--month", "2026-11", "--out", str(parquet)).exit_code == 0
    assert set(pq.read_table(parquet).column("SubAccountName").to_pylist()) == set(HOSTILE)


def test_sql_csv_neutralises_and_sql_parquet_stays_exact(tmp_path):
    lake = lake_with_hostile_subscription_names(tmp_path)
    query = "SELECT subscription_name, prompt_tokens FROM usage ORDER BY subscription_name"
    result = lake.run("sql", query, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted(r["subscription_name"] for r in rows) == sorted("'" + v for v in HOSTILE)
    assert {r["prompt_tokens"] for r in rows} == {"10"}
    out = tmp_path / "q.parquet"
    assert lake.run("sql", query, "--format", "parquet", "--out", str(out)).exit_code == 0
    assert sorted(pq.read_table(out).column("subscription_name").to_pylist()) == sorted(HOSTILE)
