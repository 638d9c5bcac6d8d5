"""`chargeback reconcile`: usage against the LLM logs, per day x deployment, on a hand-built lake.

Day DAY (match window W = 1 day, `late_data_days=1`), every case once:

| call | usage (ours) | llm_log | counts as |
|---|---|---|---|
| u1 gpt-4o | 100 + 10, delivered twice | 100 + 10 | in both, equal (our redelivery counts once) |
| u2 gpt-4o | 200 + 20 | 205 + 15 | in both, differ by 10 (the totals agree) |
| u3 gpt-4o | stream_not_read, no tokens | 300 + 30 | in both, billed from the log: 330 |
| u4 gpt-4o | 50 + 5 | none | only ours |
| u5 gpt-4o | 400 + 40 | 400 + 0 and 400 + 40 (split message) | in both, equal (max-token copy kept), 1 duplicate |
| u6 gpt-4.1 | 70 + 7 | 70 + 7, dated DAY + 1 | in both (late log row) |
| u8 gpt-4.1 | 60 + 6 | 60 + 6, dated DAY + 2 (past W) | only ours |
| u7 gpt-4.1 | 80 + 8 | total 90 only | in both, differ by 2 (the totals) |
| o1 gpt-4.1 | none | 10 + 1 | only in the log (orphan) |
| u0 gpt-4o | 90 + 9, dated DAY - 1 | 90 + 9, dated DAY | DAY - 1's, in both; not an orphan of DAY |
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aggregator.reconcile import RECONCILIATION_SCHEMA, reconcile_days
from schemas.lake import LakeLocation, open_location, partition_dir
from schemas.llm_log import LLM_LOG_SCHEMA
from tests.unit.aggregator.cli_app import invoke
from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row
from tests.unit.aggregator.pricing_fixture import env_for, write_config

DAY = date(2026, 3, 10)
T = datetime(2026, 3, 10, 12, tzinfo=UTC)
_seq = itertools.count(1)


def rid(name: str) -> str:
    """A stable GUID per call name (the policy's lower-case form)."""
    return f"00000000-0000-4000-8000-{name.encode().hex():0>12}"


def log_row(
    name: str,
    when: datetime,
    prompt: int | None,
    completion: int | None,
    deployment: str = "gpt-4o",
    sequence: int = 0,
    total: int | None = None,
) -> dict:
    seq = next(_seq)
    return {
        "record_id": rid(name),
        "time_generated": when,
        "model_request_id": f"chatcmpl-{name}",
        "deployment": deployment,
        "model": deployment,
        "operation": "ChatCompletions_Create",
        "api_version": "2024-10-21",
        "region": "swedencentral",
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total if total is not None else prompt + completion,
        "cached_tokens": None,
        "is_stream": True,
        "sequence_number": sequence,
        "resource_id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/apim",
        "eh_partition": "0",
        "eh_sequence_number": seq,
        "eh_offset": str(seq * 10),
        "eh_enqueued_time": when + timedelta(minutes=2),
    }


def write_log(location: LakeLocation, rows: list[dict]) -> None:
    """llm_log rows laid out like the consumer lays out usage: one file per hour of `time_generated`."""
    by_hour: dict[datetime, list[dict]] = {}
    for row in rows:
        by_hour.setdefault(row["time_generated"].replace(minute=0, second=0, microsecond=0), []).append(row)
    for hour, hour_rows in by_hour.items():
        directory = partition_dir(location, "llm_log", hour)
        location.filesystem.create_dir(directory, recursive=True)
        path = f"{directory}/llm-p0-{hour_rows[0]['eh_sequence_number']}.parquet"
        pq.write_table(pa.Table.from_pylist(hour_rows, schema=LLM_LOG_SCHEMA), path, filesystem=location.filesystem)


def ours(name: str, when: datetime, prompt: int | None, completion: int | None, deployment: str = "gpt-4o") -> dict:
    row = usage_row(when=when, record_id=rid(name), deployment=deployment, prompt=prompt, completion=completion)
    if prompt is None:
        row["usage_source"] = "stream_not_read"
    return row


def build_day(location: LakeLocation) -> None:
    u1 = ours("u1", T, 100, 10)
    LakeBuilder(location).usage(
        [
            u1,
            u1 | {"eh_sequence_number": u1["eh_sequence_number"] + 1000},  # a redelivery of u1
            ours("u2", T, 200, 20),
            ours("u3", T, None, None),
            ours("u4", T, 50, 5),
            ours("u5", T, 400, 40),
            ours("u6", T.replace(hour=23, minute=58), 70, 7, "gpt-4.1"),
            ours("u8", T, 60, 6, "gpt-4.1"),
            ours("u7", T, 80, 8, "gpt-4.1"),
            ours("u0", T - timedelta(days=1), 90, 9),
        ]
    )
    write_log(
        location,
        [
            log_row("u1", T, 100, 10),
            log_row("u2", T, 205, 15),  # same total, prompt +5, completion -5
            log_row("u3", T, 300, 30),
            log_row("u5", T, 400, 0, sequence=0),
            log_row("u5", T, 400, 40, sequence=1),
            log_row("u6", T + timedelta(hours=12, minutes=30), 70, 7, "gpt-4.1"),  # DAY + 1, 00:30
            log_row("u8", T + timedelta(days=2), 60, 6, "gpt-4.1"),
            log_row("o1", T, 10, 1, "gpt-4.1"),
            log_row("u7", T, None, None, "gpt-4.1", total=90),  # only TotalTokens logged
            log_row("u0", T.replace(hour=0, minute=1), 90, 9),
        ],
    )


def expected(day: date, deployment: str, **counts: float | None) -> dict:
    zero = dict.fromkeys(RECONCILIATION_SCHEMA.names[2:-1], 0)
    return {"date": day, "deployment": deployment} | zero | counts


EXPECTED_DAY = [
    expected(
        DAY,
        "gpt-4.1",
        calls_in_both=2,  # u6, its log row a day late; u7
        only_ours=1,  # u8, its log row past the window
        only_log=1,  # o1
        tokens_differ=1,  # u7
        token_difference=2,
        divergence=0.5,
    ),
    expected(
        DAY,
        "gpt-4o",
        calls_in_both=4,  # u1 (once), u2, u3, u5
        only_ours=1,  # u4
        tokens_differ=1,  # u2
        token_difference=10,
        stream_not_read=1,  # u3
        stream_not_read_tokens=330,
        log_duplicates=1,  # u5's second row
        divergence=0.25,
    ),
]


@pytest.fixture
def lake(tmp_path: Path) -> tuple[LakeLocation, dict[str, str]]:
    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    build_day(location)
    settings = write_config(tmp_path / "config", str(tmp_path / "lake"))
    return location, env_for(settings) | {"CHARGEBACK_LATE_DATA_DAYS": "1"}


def read(location: LakeLocation, day: date) -> list[dict]:
    path = location.path("reconciliation", f"date={day}", "part-0.parquet")
    return pq.read_table(path, filesystem=location.filesystem).to_pylist()


def test_every_case_of_a_hand_built_day(lake):
    location, _ = lake
    reconcile_days(location, [DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)], late_data_days=1)
    assert read(location, DAY) == EXPECTED_DAY
    # u0 belongs to the day before (its log row, dated DAY, is within the window, so it is no orphan of DAY)
    assert read(location, DAY - timedelta(days=1)) == [
        expected(DAY - timedelta(days=1), "gpt-4o", calls_in_both=1, divergence=0.0)
    ]
    # u6's log row is dated DAY + 1 but matched DAY's record: no orphan there
    assert read(location, DAY + timedelta(days=1)) == []


def test_the_command_writes_the_days_and_the_view_reads_them(lake):
    _, env = lake
    result = invoke(["reconcile", "--date", str(DAY)], env | {"CHARGEBACK_RECONCILE_MAX_DIVERGENCE": "0.9"})
    assert result.exit_code == 0, result.output
    assert (
        f"{DAY}: 6 calls in both, 2 only ours, 1 only in the log, 2 with different tokens (12 tokens)" in result.output
    )
    query = "SELECT deployment, calls_in_both, divergence FROM reconciliation ORDER BY deployment"
    shown = invoke(["sql", query, "--format", "csv"], env)
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[1:] == ['"gpt-4.1",2,0.5', '"gpt-4o",4,0.25']


def test_divergence_over_the_threshold_exits_with_the_data_check_code_naming_the_worst(lake):
    location, env = lake
    result = invoke(["reconcile", "--from", str(DAY - timedelta(days=1)), "--to", str(DAY)], env)  # default 0.01
    assert result.exit_code == 6, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert f"{DAY} gpt-4.1: 1 of 2 calls" in errors[0] and "50.00% > 1.00%" in errors[0]  # worse than gpt-4o's 25%
    assert read(location, DAY) == EXPECTED_DAY, "the table is written before the check fails"
    at_limit = invoke(["reconcile", "--date", str(DAY)], env | {"CHARGEBACK_RECONCILE_MAX_DIVERGENCE": "0.5"})
    assert at_limit.exit_code == 0, at_limit.output  # over the threshold fails, equal to it does not


def test_without_an_llm_log_table_nothing_is_written_and_one_line_says_so(tmp_path, caplog):
    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    LakeBuilder(location).usage([ours("u1", T, 100, 10)])
    settings = write_config(tmp_path / "config", str(tmp_path / "lake"))
    result = invoke(["reconcile", "--date", str(DAY)], env_for(settings))
    assert result.exit_code == 0, result.output
    # structlog prints to standard output until logging is configured, to the logging module afterwards
    logged = [line for line in result.stdout.splitlines() if "reconcile_skipped" in line]
    logged += [str(r.msg) for r in caplog.records if "reconcile_skipped" in str(r.msg) and r.levelname == "INFO"]
    assert len(logged) == 1 and "no llm_log table" in logged[0]  # one log line, at info: not an error
    report = [line for line in result.stdout.splitlines() if "reconcile_skipped" not in line]
    assert report == ["llm_log table not found: the LLM-log source is not enabled, nothing reconciled"]
    assert not (tmp_path / "lake" / "reconciliation").exists()


def test_running_twice_gives_the_same_files(lake):
    location, _ = lake
    root = Path(location.path())
    reconcile_days(location, [DAY], late_data_days=1)
    first = {p.relative_to(root): p.read_bytes() for p in (root / "reconciliation").rglob("*") if p.is_file()}
    reconcile_days(location, [DAY], late_data_days=1)
    second = {p.relative_to(root): p.read_bytes() for p in (root / "reconciliation").rglob("*") if p.is_file()}
    assert list(first) == [Path("reconciliation") / f"date={DAY}" / "part-0.parquet"]
    assert second == first


def test_the_nightly_job_reconciles_after_aggregating_and_fails_on_divergence(tmp_path):
    from aggregator.dates import today_utc
    from aggregator.nightly import STEPS

    (step,) = [s for s in STEPS if s.name == "reconcile"]
    assert step.needs == ("aggregate",)
    yesterday = today_utc() - timedelta(days=1)
    when = datetime.combine(yesterday, datetime.min.time(), UTC).replace(hour=9)
    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    LakeBuilder(location).usage([ours("n1", when, 100, 10), ours("n2", when, None, None)])
    write_log(location, [log_row("n1", when, 100, 12), log_row("n2", when, 20, 2)])
    settings = write_config(tmp_path / "config", str(tmp_path / "lake"))
    result = invoke(["nightly", "--skip", "compact", "--skip", "retention"], env_for(settings))
    assert result.exit_code == 6, result.output  # n1's tokens differ: 1 of 2 calls is over the default 1%
    assert f"reconcile failed (exit 6: reconciliation: {yesterday} gpt-4o: 1 of 2 calls" in result.output
    assert read(location, yesterday) == [
        expected(
            yesterday,
            "gpt-4o",
            calls_in_both=2,
            tokens_differ=1,
            token_difference=2,
            stream_not_read=1,
            stream_not_read_tokens=22,
            divergence=0.5,
        )
    ]
