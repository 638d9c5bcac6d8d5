"""The consumer's second source through the real pipeline (lake files, flush state, checkpoints), fed directly:
APIM's diagnostic documents become `llm_log` rows, probes and other categories are counted and not stored,
malformed input is dead-lettered with a reason, duplicates are kept, and a crash at any point replays exactly once."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.llm_log import LlmLogDecoder
from consumer.metrics import ConsumerMetrics
from consumer.rotation import RotationPolicy
from schemas.reassembler import EventMeta
from tests.support.llm_logs import correlation_id, document, documents, log_record, probe
from tests.support.streams import T0, Harness, Stream, read, read_column


def log_decoder(metrics: ConsumerMetrics) -> LlmLogDecoder:
    return LlmLogDecoder(on_skipped=metrics.record_skipped)


def log_harness(tmp_path, name: str = "", **kwargs) -> Harness:
    return Harness(tmp_path / f"lake{name}", tmp_path / f"ckpt{name}", source="llm_log", decoder=log_decoder, **kwargs)


def log_stream(bodies: list[bytes]) -> Stream:
    stream = Stream()
    for body in bodies:
        stream.add(body)
    return stream


async def test_records_become_llm_log_rows_with_their_stream_coordinates(tmp_path):
    stream = log_stream(documents(range(30)))
    harness = log_harness(tmp_path)
    await harness.run(stream)
    rows = read(harness.lake, "llm_log")
    assert sorted(r["record_id"] for r in rows) == sorted(correlation_id(i) for i in range(30))  # lower-cased
    first = next(r for r in rows if r["record_id"] == correlation_id(4))
    assert (first["prompt_tokens"], first["completion_tokens"], first["total_tokens"]) == (104, 14, 118)
    assert first["eh_sequence_number"] == 1 and first["eh_offset"] == stream.events[1].offset  # 3 records per event
    assert not list(harness.lake.glob("dead_letters/**/*.parquet"))
    names = {p.name for p in harness.lake.rglob("*.parquet")}
    assert names and all(n.startswith("llm_log-usage-p0-") for n in names)
    assert {p.parent.parent.name for p in harness.lake.rglob("*.parquet")} == {"event_date=2026-11-27"}
    assert harness.stats.records_written == Counter(llm_log=30)
    checkpoint = await harness.checkpoint()
    assert checkpoint is not None and checkpoint.sequence_number == len(stream.events) - 1  # nothing held back


async def test_probes_and_other_categories_are_counted_not_stored(tmp_path):
    other = log_record(3) | {"category": "GatewayLogs"}
    stream = log_stream([document(log_record(1), probe(2), other), document(probe(4))])
    harness = log_harness(tmp_path)
    await harness.run(stream)
    assert read_column(harness.lake, "llm_log", "record_id") == [correlation_id(1)]
    assert harness.stats.skipped == Counter(probe=2, other_category=1)
    assert not list(harness.lake.glob("dead_letters/**/*.parquet"))
    assert (await harness.checkpoint()).sequence_number == 1  # an event of probes only still moves the checkpoint


async def test_malformed_input_is_dead_lettered_with_a_reason_and_the_rest_is_kept(tmp_path):
    bad_guid = log_record(2, CorrelationId="not-a-guid")
    bodies = [
        b"\xff\xfe not json",
        json.dumps({"value": []}).encode(),
        document(log_record(1), bad_guid, log_record(3, PromptTokens=-5)),
        b"[" * 100_000,
        document(log_record(4)),
    ]
    harness = log_harness(tmp_path)
    stream = log_stream(bodies)
    await harness.run(stream)
    assert sorted(read_column(harness.lake, "llm_log", "record_id")) == [correlation_id(1), correlation_id(4)]
    dead = sorted(read(harness.lake, "dead_letters"), key=lambda d: (d["sequence_number"], d["detail"]))
    assert [(d["reason"], d["sequence_number"], d["kind"]) for d in dead] == [
        ("llm_log_not_json", 0, "llm_log"),
        ("llm_log_not_json", 1, "llm_log"),
        ("llm_log_invalid", 2, "llm_log"),
        ("llm_log_invalid", 2, "llm_log"),
        ("llm_log_not_json", 3, "llm_log"),
    ]
    assert dead[2]["detail"].startswith("records[1]:") and dead[3]["detail"].startswith("records[2]:")
    assert dead[0]["raw_body"] == bodies[0] and dead[0]["offset"] == stream.events[0].offset
    assert harness.stats.dead_letters == Counter(llm_log_not_json=3, llm_log_invalid=2)


async def test_duplicates_are_kept_as_rows_for_the_aggregator_to_dedup(tmp_path):
    """The same call twice (an event redelivered, or in two documents) is two rows: `record_id` dedup is the
    aggregator's (aggregator/reconcile.py), which also counts them (`log_duplicates`)."""
    again = document(log_record(5))
    harness = log_harness(tmp_path)
    await harness.run(log_stream([again, document(log_record(6)), again]))
    rows = read(harness.lake, "llm_log")
    assert Counter(r["record_id"] for r in rows) == Counter({correlation_id(5): 2, correlation_id(6): 1})
    assert sorted(r["eh_sequence_number"] for r in rows if r["record_id"] == correlation_id(5)) == [0, 2]


@pytest.mark.parametrize("crash_at", [1, 7, 8, 15, 23])
async def test_crash_and_replay_write_every_row_exactly_once(tmp_path, crash_at):
    bodies = documents(range(75), per_document=3)
    bodies[4] = b"not json"  # a dead letter on the way
    stream = log_stream(bodies)
    reference = log_harness(tmp_path, "-ref", policy=RotationPolicy(max_rows=10))
    await reference.run(stream)
    harness = log_harness(tmp_path, policy=RotationPolicy(max_rows=10))
    await harness.run(stream, stop_after=crash_at, flush=False)  # killed: no flush, no checkpoint on the way out
    await harness.run(stream)
    ids = read_column(harness.lake, "llm_log", "record_id")
    assert sorted(ids) == sorted(correlation_id(i) for i in range(75) if i // 3 != 4)
    assert len(read_column(harness.lake, "dead_letters", "reason")) == 1
    ref_files = sorted(p.relative_to(reference.lake) for p in reference.lake.rglob("*.parquet"))
    files = sorted(p.relative_to(harness.lake) for p in harness.lake.rglob("*.parquet"))
    assert ref_files == files  # the replay rewrote the same files, under the same names


async def test_both_sources_on_one_lake_and_checkpoint_store_never_collide(tmp_path, monkeypatch):
    """Both hubs called the same (`usage`) in two namespaces, as with the dedicated log namespace of infra/: every
    file of both sources lands side by side, dead letters included (the table both write), and each source's flush
    state sits under its own key. Without the source in the file name the log's dead-letter file would replace the
    usage hub's (same hub, partition and sequence numbers)."""
    from tests.support import streams

    usage_stream = Stream()
    usage_ids = [usage_stream.add_usage(i) for i in range(20)]
    usage_stream.add(b"usage garbage")
    logs = log_stream([*documents(range(20), per_document=1), b"log garbage"])
    usage = Harness(tmp_path / "lake", tmp_path / "ckpt")
    await usage.run(usage_stream)
    monkeypatch.setattr(streams, "NS", "logs.test")
    log = log_harness(tmp_path)
    await log.run(logs)
    assert len(usage_stream.events) == len(logs.events) == 21  # the same coordinates: one batch each, 0 to 20
    assert sorted(read_column(usage.lake, "usage", "record_id")) == sorted(usage_ids)
    assert sorted(read_column(usage.lake, "llm_log", "record_id")) == sorted(correlation_id(i) for i in range(20))
    assert sorted(bytes(b) for b in read_column(usage.lake, "dead_letters", "raw_body")) == [
        b"log garbage",
        b"usage garbage",
    ]
    states = sorted(p.relative_to(tmp_path / "ckpt" / "flushstate").parts[0] for p in tmp_path.rglob("*.json"))
    assert states == ["llm_log", "usage"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps({"records": value if isinstance(value, list) else [value]}).encode()),
        st.builds(
            lambda overrides: document(log_record(0, **overrides)),
            st.dictionaries(
                st.sampled_from(["CorrelationId", "PromptTokens", "TimeGenerated", "RequestId", "IsStreamCompletion"]),
                st.none() | st.integers() | st.text(max_size=30) | st.floats(allow_nan=True),
                max_size=3,
            ),
        ),
    )
)
def test_hostile_bodies_end_as_rows_skips_or_dead_letters_never_an_exception(body):
    from consumer.llm_log import llm_log_tables
    from consumer.outputs import LlmLogRow

    skipped: list[Counter[str]] = []
    decoder = LlmLogDecoder(on_skipped=skipped.append)
    outputs = decoder.feed(body, EventMeta("0", 0, "8", T0))
    rows = [o for o in outputs if isinstance(o, LlmLogRow)]
    tables, unstorable = llm_log_tables(rows)
    stored = sum(t.num_rows for t in tables.values())
    letters = len(outputs) - len(rows) + len(unstorable)
    assert stored + len(unstorable) == len(rows)
    assert stored or letters or skipped, "an event must end somewhere: rows, dead letters or counted skips"
