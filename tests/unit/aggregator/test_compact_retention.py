"""`chargeback compact` keeps every answer while merging files; `retention apply` deletes only expired bodies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from aggregator.compact import compact_day
from aggregator.errors import DateRangeError
from aggregator.lakeio import open_lake
from aggregator.views import lake_connection
from tests.unit.aggregator import handcomputed as hc
from tests.unit.aggregator.cli_app import invoke
from tests.unit.aggregator.lake_builder import LakeBuilder, dead_letter_row, payload_row, usage_row

QUERIES = [
    "SELECT count(*), count(DISTINCT record_id), sum(prompt_tokens), sum(completion_tokens) FROM usage_raw",
    "SELECT record_id, prompt_tokens, eh_sequence_number FROM usage ORDER BY record_id",
    "SELECT event_date, event_hour, count(*) FROM usage_raw GROUP BY ALL ORDER BY ALL",
    "SELECT record_id, body FROM payloads ORDER BY ALL",
]


def answers(lake) -> list:
    con = lake_connection(open_lake(str(lake.root)), lake.settings)
    try:
        return [con.sql(q).fetchall() for q in QUERIES]
    finally:
        con.close()


def test_compaction_merges_small_files_and_changes_no_result(aggregated_lake):
    hour = hc.A.replace(minute=0)
    aggregated_lake.builder.usage(
        [usage_row(when=hour + timedelta(minutes=i), prompt=i, completion=1) for i in range(1, 40)]
    )
    aggregated_lake.builder.usage([usage_row(when=hour, prompt=5, completion=5)])
    aggregated_lake.builder.payloads([payload_row("rec-2", hc.A), payload_row("rec-3", hc.A)])
    hour_dir = aggregated_lake.root / "usage" / f"event_date={hc.DAY_A}" / "event_hour=09"
    before_files = list(hour_dir.glob("*.parquet"))
    assert len(before_files) >= 4
    before = answers(aggregated_lake)

    result = invoke(["compact", "--date", hc.DAY_A.isoformat()], aggregated_lake.env)
    assert result.exit_code == 0, result.output

    after_files = list(hour_dir.glob("*.parquet"))
    assert len(after_files) == 1 and after_files[0].name.startswith("compacted-")
    assert [p for p in hour_dir.iterdir() if p.name.startswith(".")] == [], "no temporary file is left"
    assert answers(aggregated_lake) == before
    metadata = pq.read_metadata(after_files[0])
    assert metadata.num_row_groups == 1 and metadata.row_group(0).column(0).compression == "ZSTD"
    # A second run has nothing to do and changes nothing.
    assert invoke(["compact", "--date", hc.DAY_A.isoformat()], aggregated_lake.env).exit_code == 0
    assert list(hour_dir.glob("*.parquet")) == after_files and answers(aggregated_lake) == before


def test_an_interrupted_compaction_is_finished_by_the_next_run(aggregated_lake):
    hour_dir = aggregated_lake.root / "usage" / f"event_date={hc.DAY_A}" / "event_hour=09"
    originals = {p: p.read_bytes() for p in hour_dir.glob("*.parquet")}
    assert len(originals) >= 2
    before = answers(aggregated_lake)
    compact_day(open_lake(str(aggregated_lake.root)), hc.DAY_A, date(2027, 1, 1), tables=("usage",))
    (compacted,) = hour_dir.glob("*.parquet")
    # A crash after the compacted file was complete but before its sources were deleted leaves both.
    for path, data in originals.items():
        path.write_bytes(data)
    result = compact_day(open_lake(str(aggregated_lake.root)), hc.DAY_A, date(2027, 1, 1), tables=("usage",))
    assert sorted(result.repaired) == sorted(str(p) for p in originals), "sources named in the footer are removed"
    assert list(hour_dir.glob("*.parquet")) == [compacted]
    assert answers(aggregated_lake) == before


def test_today_is_not_compacted(aggregated_lake):
    with pytest.raises(DateRangeError, match="not closed"):
        compact_day(open_lake(str(aggregated_lake.root)), hc.DAY_A, hc.DAY_A)
    today = datetime.now(UTC).date().isoformat()
    assert invoke(["compact", "--date", today], aggregated_lake.env).exit_code == 2


def test_retention_deletes_only_expired_payloads_and_dead_letters(aggregated_lake):
    today = datetime.now(UTC)
    builder: LakeBuilder = aggregated_lake.builder
    builder.payloads([payload_row("old", today - timedelta(days=31)), payload_row("new", today - timedelta(days=29))])
    builder.dead_letters([dead_letter_row(today - timedelta(days=91)), dead_letter_row(today - timedelta(days=89))])
    builder.usage([usage_row(when=today - timedelta(days=400), prompt=1, completion=1)])
    env = aggregated_lake.env | {
        "CHARGEBACK_PAYLOAD_RETENTION_DAYS": "30",
        "CHARGEBACK_DEAD_LETTER_RETENTION_DAYS": "90",
    }
    usage_before = sorted(p.name for p in (aggregated_lake.root / "usage").iterdir())
    dry = invoke(["retention", "apply", "--dry-run"], env)
    assert dry.exit_code == 0 and "would delete payloads" in dry.output
    assert (aggregated_lake.root / "payloads" / f"event_date={(today - timedelta(days=31)).date()}").exists()

    result = invoke(["retention", "apply"], env)
    assert result.exit_code == 0, result.output

    def days(table: str) -> set[str]:
        return {p.name.split("=")[1] for p in (aggregated_lake.root / table).iterdir()}

    assert (today - timedelta(days=31)).date().isoformat() not in days("payloads")
    assert (today - timedelta(days=29)).date().isoformat() in days("payloads")
    assert (today - timedelta(days=91)).date().isoformat() not in days("dead_letters")
    assert (today - timedelta(days=89)).date().isoformat() in days("dead_letters")
    cutoff = (today - timedelta(days=30)).date().isoformat()
    assert all(day >= cutoff for day in days("payloads"))
    assert sorted(p.name for p in (aggregated_lake.root / "usage").iterdir()) == usage_before, "usage is kept"
    assert (aggregated_lake.root / "chargeback_daily").exists()
