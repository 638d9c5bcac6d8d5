"""`chargeback sql`: views over the lake, deduplicated usage, every output format, and strictly read-only."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.unit.aggregator.cli_app import invoke


def test_usage_view_is_deduplicated_and_usage_raw_is_not(aggregated_lake):
    query = "SELECT (SELECT count(*) FROM usage) AS dedup, (SELECT count(*) FROM usage_raw) AS raw"
    result = invoke(["sql", query, "--format", "json"], aggregated_lake.env)
    assert result.exit_code == 0, result.output
    # 10 distinct records + 1 redelivered duplicate of rec-1 (tests/unit/aggregator/handcomputed.py).
    assert json.loads(result.output) == [{"dedup": 10, "raw": 11}]


def test_every_view_answers(aggregated_lake):
    for view in (
        "usage",
        "usage_raw",
        "payloads",
        "dead_letters",
        "chargeback_daily",
        "chargeback_monthly",
        "unpriced",
        "ptu_allocation",
        "prices",
    ):
        result = invoke(["sql", f"SELECT count(*) AS n FROM {view}", "--format", "csv"], aggregated_lake.env)
        assert result.exit_code == 0, (view, result.output)
        assert int(result.output.splitlines()[1]) > 0, view


def test_formats_csv_table_and_parquet(aggregated_lake, tmp_path):
    query = (
        "SELECT team, sum(total_cost) AS cost FROM chargeback_daily WHERE team IS NOT NULL GROUP BY team ORDER BY team"
    )
    csv_out = invoke(["sql", query, "--format", "csv"], aggregated_lake.env)
    assert csv_out.output.splitlines()[0] == '"team","cost"'
    assert csv_out.output.splitlines()[1].startswith('"a",396.46')
    table_out = invoke(["sql", query], aggregated_lake.env)
    assert "396.46" in table_out.output and "team" in table_out.output
    target = tmp_path / "q.parquet"
    assert invoke(["sql", query, "--format", "parquet", "--out", str(target)], aggregated_lake.env).exit_code == 0
    assert pq.read_table(target).column("team").to_pylist() == ["a", "b", "c"]


@pytest.mark.parametrize(
    "query",
    [
        "COPY (SELECT 1) TO 'escape.csv'",
        "CREATE TABLE t AS SELECT 1",
        "DELETE FROM usage_raw",
        "SELECT 1; SELECT 2",
        "SELECT * FROM read_csv('/etc/hostname')",
        "ATTACH 'x.db'",
        "SET enable_external_access = true",
    ],
)
def test_anything_but_a_read_is_refused(aggregated_lake, query, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted((p, p.stat().st_mtime_ns) for p in aggregated_lake.root.rglob("*"))
    result = invoke(["sql", query], aggregated_lake.env)
    assert result.exit_code == 2, result.output
    assert "error:" in result.output
    assert list(work.iterdir()) == []
    assert sorted((p, p.stat().st_mtime_ns) for p in aggregated_lake.root.rglob("*")) == before


def test_a_query_error_is_clear(aggregated_lake):
    result = invoke(["sql", "SELECT nope FROM usage"], aggregated_lake.env)
    assert result.exit_code == 2
    assert "nope" in result.output


def test_nested_columns_become_json_in_csv_and_json(aggregated_lake):
    query = "SELECT record_id, tags FROM usage WHERE record_id = 'rec-1'"
    csv_out = invoke(["sql", query, "--format", "csv"], aggregated_lake.env)
    assert csv_out.exit_code == 0, csv_out.output
    assert csv_out.output.splitlines()[1] == '"rec-1","{""team"": ""a""}"'
    json_out = invoke(["sql", query, "--format", "json"], aggregated_lake.env)
    assert json.loads(json_out.output) == [{"record_id": "rec-1", "tags": {"team": "a"}}]
