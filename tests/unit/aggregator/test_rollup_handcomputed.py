"""The roll-up against a month computed by hand (tests/unit/aggregator/handcomputed.py): every cent must match."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from aggregator.aggregate import aggregate_days
from aggregator.lakeio import open_lake
from schemas.lake import open_location
from tests.unit.aggregator import handcomputed as hc
from tests.unit.aggregator.lake_builder import LakeBuilder
from tests.unit.aggregator.pricing_fixture import write_config

CENT = Decimal("0.01")


def read(lake: Path, table: str, key: str, value: str) -> list[dict]:
    return pq.read_table(lake / table / f"{key}={value}" / "part-0.parquet").to_pylist()


@pytest.fixture
def lake(tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / "lake"
    location = open_location(str(root))
    location.ensure_root()
    extra = hc.build(LakeBuilder(location))
    settings = write_config(tmp_path / "config", str(root))
    aggregate_days(open_lake(str(root)), [hc.DAY_A, hc.DAY_B], settings)
    return root, {"settings": settings, "location": location, **extra}


def team_costs(rows: list[dict]) -> dict:
    totals: dict = defaultdict(Decimal)
    for row in rows:
        if row["total_cost"] is not None:
            totals[(row["date"], row["team"])] += row["total_cost"]
    return totals


def test_every_row_of_day_a_matches_the_hand_computation(lake):
    root, _ = lake
    rows = read(root, "chargeback_daily", "date", hc.DAY_A.isoformat())
    by_deployment = defaultdict(list)
    for row in rows:
        by_deployment[(row["deployment"], row["team"])].append(row)

    (first,) = by_deployment[("gpt-4.1", "a")]
    assert first["requests"] == 1, "the redelivered duplicate of rec-1 must be counted once"
    assert (first["prompt_tokens"], first["cached_tokens"], first["completion_tokens"]) == (1_000_000, 400_000, 250_000)
    assert first["input_cost"] == Decimal("1.20")
    assert first["cached_input_cost"] == Decimal("0.20")
    assert first["output_cost"] == Decimal("2.00")
    assert first["total_cost"] == Decimal("3.40")
    assert first["price_id"] == "gpt-4.1|global|*|2026-01-01"
    assert first["input_per_1m"] == Decimal("2.00")
    assert first["currency"] == "USD"

    (reasoning,) = by_deployment[("o4-mini", "b")]
    assert reasoning["input_cost"] == Decimal("0.33")
    assert reasoning["output_cost"] == Decimal("2.20"), "reasoning tokens are billed as output, once"
    assert reasoning["reasoning_cost"] == Decimal("1.76")
    assert reasoning["total_cost"] == Decimal("2.53")

    (batch,) = by_deployment[("gpt-4.1-batch", "a")]
    assert batch["deployment_type"] == "batch"
    assert batch["input_per_1m"] == Decimal("1.00"), "a per-1K sheet row is converted to per 1M, not billed 1000x"
    assert batch["total_cost"] == Decimal("6.00")

    (failed,) = by_deployment[("gpt-4.1", "b")]
    assert (failed["requests"], failed["successful"], failed["failed"], failed["requests_without_usage"]) == (
        1,
        0,
        1,
        1,
    )
    assert failed["pricing_status"] == "no_tokens"
    assert failed["total_cost"] == 0

    (ptu_a,) = by_deployment[("gpt-4.1-ptu", "a")]
    (ptu_b,) = by_deployment[("gpt-4.1-ptu", "b")]
    assert ptu_a["token_cost"] == 0 and ptu_b["token_cost"] == 0, "PTU traffic is not priced per token"
    assert ptu_a["ptu_cost"] == Decimal("384.00")
    assert ptu_b["ptu_cost"] == Decimal("96.00")
    assert ptu_a["region"] == "swedencentral"

    (mystery,) = by_deployment[("mystery", "c")]
    (rogue,) = by_deployment[("rogue", "c")]
    assert (mystery["pricing_status"], mystery["unpriced_reason"]) == ("unpriced", "no_price")
    assert (rogue["pricing_status"], rogue["unpriced_reason"]) == ("unpriced", "unknown_deployment")
    assert mystery["total_cost"] is None and rogue["total_cost"] is None, "unpriced is never a silent zero"


def test_unpriced_usage_is_reported_with_its_reason(lake):
    root, _ = lake
    rows = read(root, "unpriced", "date", hc.DAY_A.isoformat())
    assert sorted((r["deployment"], r["reason"], r["prompt_tokens"], r["completion_tokens"]) for r in rows) == [
        ("mystery", "no_price", 1_000, 10),
        ("rogue", "unknown_deployment", 500, 50),
    ]
    assert read(root, "unpriced", "date", hc.DAY_B.isoformat()) == []


def test_ptu_cost_is_allocated_by_token_share_and_idle_days_are_kept(lake):
    root, _ = lake
    day_a = read(root, "ptu_allocation", "date", hc.DAY_A.isoformat())
    assert sorted((r["team"], r["tokens"], r["allocated_cost"]) for r in day_a) == [
        ("a", 4_000_000, Decimal("384.00")),
        ("b", 1_000_000, Decimal("96.00")),
    ]
    assert sum(r["allocated_cost"] for r in day_a) == Decimal("480.00")
    (idle,) = read(root, "ptu_allocation", "date", hc.DAY_B.isoformat())
    assert (idle["status"], idle["team"], idle["allocated_cost"]) == ("idle", None, Decimal("480.00"))


def test_price_in_force_at_event_time_is_used_after_the_mid_month_change(lake):
    root, _ = lake
    (row,) = [r for r in read(root, "chargeback_daily", "date", hc.DAY_B.isoformat()) if r["team"] == "a"]
    assert row["price_id"] == "gpt-4.1|global|*|2026-11-15"
    assert (row["input_cost"], row["cached_input_cost"], row["output_cost"]) == (
        Decimal("1.08"),
        Decimal("0.18"),
        Decimal("1.80"),
    )


def test_late_records_are_picked_up_by_the_next_run_and_totals_match_to_the_cent(lake):
    root, ctx = lake
    before = team_costs(read(root, "chargeback_daily", "date", hc.DAY_B.isoformat()))
    assert (hc.DAY_B, "b") not in before
    LakeBuilder(ctx["location"]).usage([ctx["late"]])
    day_a_file = root / "chargeback_daily" / f"date={hc.DAY_A.isoformat()}" / "part-0.parquet"
    day_a_bytes, day_a_mtime = day_a_file.read_bytes(), day_a_file.stat().st_mtime_ns
    aggregate_days(open_lake(str(root)), [hc.DAY_B], ctx["settings"])
    assert (day_a_file.read_bytes(), day_a_file.stat().st_mtime_ns) == (day_a_bytes, day_a_mtime), (
        "re-running day B must not touch day A"
    )

    daily = read(root, "chargeback_daily", "date", hc.DAY_A.isoformat()) + read(
        root, "chargeback_daily", "date", hc.DAY_B.isoformat()
    )
    costs = team_costs(daily)
    for key, expected in hc.TEAM_DAY_COST.items():
        assert costs[key].quantize(CENT) == expected and costs[key] == expected, key
    (monthly_total,) = {sum(r["total_cost"] or 0 for r in read(root, "chargeback_monthly", "month", "2026-11"))}
    assert monthly_total == hc.MONTH_TOTAL


def test_rerunning_a_day_is_idempotent(lake):
    root, ctx = lake
    tables = ("chargeback_daily", "unpriced", "ptu_allocation")
    paths = {t: root / t / f"date={hc.DAY_A.isoformat()}" for t in tables}
    before = {t: pq.read_table(p / "part-0.parquet") for t, p in paths.items()}
    # Several runs: DuckDB's threads return groups in any order, and the tables (rows, their order, every cent of
    # the PTU split) must not depend on it.
    for _ in range(6):
        aggregate_days(open_lake(str(root)), [hc.DAY_A], ctx["settings"])
        for table, path in paths.items():
            assert [p.name for p in path.iterdir()] == ["part-0.parquet"]
            assert pq.read_table(path / "part-0.parquet").equals(before[table]), table
