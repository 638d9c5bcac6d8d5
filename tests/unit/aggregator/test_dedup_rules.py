"""Deduplication by record_id: the row first enqueued wins (time, then partition, then sequence number), wherever the
copies are; and the chargeback key built from the configured tag dimensions (canonical tags) per group."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.dedup import EXTRA_COPIES_SQL, duplicated_hashes, extra_copies
from aggregator.deployments import DEPLOYMENTS_SCHEMA
from aggregator.dimensions import TagDimensions
from aggregator.lakeio import local_day_files, open_lake
from aggregator.prices import PRICES_SCHEMA
from aggregator.ptu import PtuConfig
from aggregator.rollup import roll_up_day
from aggregator.teams import parse_teams
from schemas.lake import open_location
from tests.support.profiles import examples
from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row

DAY = date(2026, 11, 10)
T0 = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)


# The lake builder's rows come from subscription sub-1; shared here, so each row's team tag names its team.
SHARED = parse_teams(
    "subscription_id,team,shared_teams\nsub-1,platform,time;partition;sequence;exact;replayed;single;a;prod\n", "test"
)


def roll_up(root: Path, team_tag: str = "team", dimensions: str = "") -> list[dict]:
    location = open_lake(str(root))
    with local_day_files(location, "usage", DAY) as files:
        tables = roll_up_day(
            files,
            DAY,
            prices=PRICES_SCHEMA.empty_table(),
            deployments=DEPLOYMENTS_SCHEMA.empty_table(),
            ptu=PtuConfig(),
            team_tag=team_tag,
            teams=SHARED,
            dimensions=TagDimensions.parse(dimensions),
        )
    return tables["chargeback_daily"].to_pylist()


def copy(row: dict, **changes: object) -> dict:
    return dict(row, **changes)


def test_the_first_enqueued_copy_wins_wherever_it_is(tmp_path: Path):
    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    builder = LakeBuilder(location)
    # One team per record, so each chargeback row shows which copy won (copies differ in prompt tokens on purpose).
    by_time = usage_row(when=T0, team="time", prompt=1, completion=1, record_id="r-time", partition="0")
    by_partition = usage_row(when=T0, team="partition", prompt=1, completion=1, record_id="r-part", partition="1")
    by_sequence = usage_row(when=T0, team="sequence", prompt=1, completion=1, record_id="r-seq", partition="2")
    exact = usage_row(when=T0, team="exact", prompt=7, completion=1, record_id="r-exact")
    replayed = usage_row(when=T0, team="replayed", prompt=5, completion=1, record_id="r-replay", partition="1")
    single = usage_row(when=T0, team="single", prompt=9, completion=1)
    # file "a" sorts first: it holds the copies that must LOSE, so file order alone cannot pick the winner
    builder.usage([by_time, by_partition, copy(by_sequence, eh_sequence_number=70), exact, replayed, single], "a")
    builder.usage(
        [
            copy(by_time, prompt_tokens=2, total_tokens=3, eh_enqueued_time=T0 - timedelta(microseconds=1)),
            copy(by_partition, prompt_tokens=2, total_tokens=3, eh_partition="0"),
            copy(by_sequence, prompt_tokens=2, total_tokens=3, eh_sequence_number=50, eh_partition="2"),
            exact,
            copy(replayed, prompt_tokens=6, total_tokens=7, eh_partition="3", eh_enqueued_time=T0 + timedelta(hours=1)),
        ],
        "b",
    )
    builder.usage([copy(replayed, prompt_tokens=4, total_tokens=5, eh_partition="0", eh_sequence_number=1)], "c")

    rows = {row["team"]: row for row in roll_up(tmp_path / "lake")}
    assert {team: (row["requests"], row["prompt_tokens"]) for team, row in rows.items()} == {
        "time": (1, 2),  # earlier enqueued time, although in the later file
        "partition": (1, 2),  # same time: partition "0" before "1"
        "sequence": (1, 2),  # same time and partition: sequence 50 before 70
        "exact": (1, 7),  # the same event written twice counts once
        "replayed": (1, 4),  # three partitions (replay after a repartition): the lowest partition at the same time
        "single": (1, 9),
    }


def test_a_day_without_duplicates_and_tags_in_any_order_make_one_key(tmp_path: Path):
    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    builder = LakeBuilder(location)
    first = usage_row(when=T0, prompt=10, completion=1)
    first["tags"] = [("team", "a"), ("env", "prod")]
    second = usage_row(when=T0, prompt=20, completion=2)
    second["tags"] = [("env", "prod"), ("team", "a")]
    untagged = usage_row(when=T0, team=None, prompt=30, completion=3)
    builder.usage([first, second, untagged])

    rows = sorted(roll_up(tmp_path / "lake", dimensions="team,env"), key=lambda r: r["tags"])
    assert [(r["team"], r["attribution"], r["tags"], r["requests"], r["prompt_tokens"]) for r in rows] == [
        ("a", "header", '{"env":"prod","team":"a"}', 2, 30),
        ("platform", "mapped", "{}", 1, 30),
    ]
    by_env = roll_up(tmp_path / "lake", team_tag="env")
    assert sorted((r["team"], r["tags"], r["requests"]) for r in by_env) == [("platform", "{}", 1), ("prod", "{}", 2)]


def test_duplicated_hashes_are_the_values_seen_more_than_once():
    values = np.array([5, 3, 5, 9, 3, 3, 1], dtype=np.uint64)
    assert duplicated_hashes(values).tolist() == [3, 5]
    assert values.tolist() == [5, 3, 5, 9, 3, 3, 1], "the caller's array is left as it was"
    assert duplicated_hashes(np.array([], dtype=np.uint64)).tolist() == []


ROW = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e", "f"]),  # record_id: few values, so copies are common
    st.integers(0, 2),  # enqueued time (seconds): ties are common
    st.sampled_from(["0", "1", "10", "2"]),  # partition: compared as text, "10" < "2"
    st.integers(0, 3),  # sequence number
)


def day_rows(rows: list[tuple[str, int, str, int]]) -> pa.Table:
    return pa.table(
        {
            "record_id": pa.array([r[0] for r in rows], pa.string()),
            "eh_enqueued_time": pa.array([T0 + timedelta(seconds=r[1]) for r in rows], pa.timestamp("us", tz="UTC")),
            "eh_partition": pa.array([r[2] for r in rows], pa.string()),
            "eh_sequence_number": pa.array([r[3] for r in rows], pa.int64()),
            "row_key": pa.array(range(len(rows)), pa.uint64()),
        }
    )


def expected_losers(rows: list[tuple[str, int, str, int]]) -> set[int]:
    winners: dict[str, tuple] = {}
    for key, (record_id, seconds, partition, sequence) in enumerate(rows):
        rank = (seconds, partition, sequence, key)
        winners[record_id] = min(winners.get(record_id, rank), rank)
    return {key for key in range(len(rows)) if winners[rows[key][0]][3] != key}


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, max_size=25))
def test_extra_copies_match_a_reference_and_a_hash_collision_never_merges_ids(rows):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("day_rows", day_rows(rows))
    found = extra_copies(con)
    losers = set() if found is None else set(found.column("row_key").to_pylist())
    assert losers == expected_losers(rows)
    # As if every id collided with another: the exact ranking still separates different ids.
    every_hash = con.sql("SELECT DISTINCT hash(record_id) AS id_hash FROM day_rows").to_arrow_table()
    con.register("duplicated_hashes", every_hash)
    ranked = set(con.sql(EXTRA_COPIES_SQL).to_arrow_table().column("row_key").to_pylist())
    assert ranked == expected_losers(rows)
    con.close()
