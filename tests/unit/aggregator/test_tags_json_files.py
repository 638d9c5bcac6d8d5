"""Usage files written before `tags_json` existed: the roll-up derives the key from the tags map and gives the same
tables to the cent, and compaction fills the column in, so a mixed lake never loses a team's tags."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from aggregator.aggregate import aggregate_days
from aggregator.compact import compact_day
from aggregator.lakeio import open_lake
from schemas.tags import TAGS_JSON, canonical_tags_json
from tests.unit.aggregator import handcomputed as hc

DAYS = [hc.DAY_A, hc.DAY_B]
TABLES = ("chargeback_daily", "unpriced", "ptu_allocation")


def usage_files(root: Path) -> list[Path]:
    return sorted((root / "usage").rglob("*.parquet"))


def drop_tags_json(files: list[Path]) -> None:
    for path in files:
        table = pq.read_table(path)
        if TAGS_JSON in table.column_names:
            pq.write_table(table.drop_columns([TAGS_JSON]), path)


def results(root: Path) -> dict[str, list[dict]]:
    out = {}
    for table in TABLES:
        for day in DAYS:
            path = root / table / f"date={day}" / "part-0.parquet"
            out[f"{table}/{day}"] = pq.read_table(path).to_pylist() if path.exists() else []
    return out


def test_legacy_and_mixed_files_roll_up_exactly_like_current_ones(aggregated_lake):
    root, settings = aggregated_lake.root, aggregated_lake.settings
    current = results(root)
    assert any(r["team"] for r in current[f"chargeback_daily/{hc.DAY_A}"]), "the fixture must carry team tags"
    files = usage_files(root)
    assert len(files) >= 2

    drop_tags_json(files[: len(files) // 2])  # mixed: some files with the column, some without
    aggregate_days(open_lake(str(root)), DAYS, settings)
    assert results(root) == current

    drop_tags_json(files)  # every file predates the column
    aggregate_days(open_lake(str(root)), DAYS, settings)
    assert results(root) == current


def test_compaction_of_old_files_derives_tags_json(aggregated_lake):
    root = aggregated_lake.root
    drop_tags_json(usage_files(root))
    compact_day(aggregated_lake.location, hc.DAY_A, hc.DAY_B)
    compacted = [p for p in usage_files(root) if f"event_date={hc.DAY_A}" in str(p)]
    assert compacted
    for path in compacted:
        table = pq.read_table(path)
        if TAGS_JSON not in table.column_names:  # an hour of one file is left as it was
            continue
        assert table.column(TAGS_JSON).null_count == 0
        assert table.column(TAGS_JSON).to_pylist() == [canonical_tags_json(t) for t in table.column("tags").to_pylist()]
    assert any(TAGS_JSON in pq.read_schema(p).names for p in compacted), "some hour must have been compacted"
