"""Pure parts of localhub: selectors, addresses, message stamping, partition logs, hub specs."""

from __future__ import annotations

import pytest
from azure.eventhub._pyamqp._decode import decode_payload
from azure.eventhub._pyamqp._encode import encode_payload
from azure.eventhub._pyamqp.message import Message, Properties
from hypothesis import given, settings
from hypothesis import strategies as st

from localhub import messages
from localhub.addresses import parse_entity, parse_selector
from localhub.broker import partition_for_key
from localhub.config import HubSpec, parse_hub_spec
from localhub.errors import HubSpecError, MalformedMessageError
from localhub.storage import LOG_MAGIC, Partition, StartPosition
from tests.support.profiles import examples


def encoded(body: bytes, annotations: dict | None = None, app: dict | None = None) -> bytes:
    message = Message(
        data=[body],
        message_annotations=annotations,
        application_properties=app,
        properties=Properties(message_id="m-1"),
    )
    return bytes(encode_payload(bytearray(), message))


def test_selectors_cover_every_sdk_start_position():
    assert parse_selector(b"amqp.annotation.x-opt-offset > '-1'") == StartPosition("offset", -1, False)
    assert parse_selector(b"amqp.annotation.x-opt-offset > '@latest'").value is None
    assert parse_selector(b"amqp.annotation.x-opt-offset >= '120'") == StartPosition("offset", 120, True)
    assert parse_selector(b"amqp.annotation.x-opt-sequence-number > '7'") == StartPosition("sequence", 7, False)
    assert parse_selector(b"amqp.annotation.x-opt-enqueued-time >= '1700000000000'").field == "time"
    with pytest.raises(ValueError, match="unsupported"):
        parse_selector(b"amqp.annotation.x-opt-foo > '1'")


def test_addresses_ignore_scheme_and_host():
    entity = parse_entity(b"amqps://127.0.0.1:5672/usage/ConsumerGroups/$Default/Partitions/3")
    assert (entity.hub, entity.consumer_group, entity.partition_id) == ("usage", "$Default", "3")
    assert parse_entity("usage/Partitions/0").partition_id == "0"
    assert parse_entity(b"$cbs").node == "$cbs"
    assert parse_entity(b"a/b/c/d") is None


@settings(max_examples=examples(60), deadline=None)
@given(
    body=st.binary(max_size=2000),
    key=st.none() | st.text(min_size=1, max_size=300),
    seq=st.integers(0, 2**62),
    user=st.dictionaries(
        st.sampled_from([b"x-opt-custom", b"x-opt-partition-key", b"x-opt-offset"]), st.text(max_size=20), max_size=3
    ),
)
def test_stamp_keeps_the_message_and_sets_broker_annotations(body, key, seq, user):
    original = encoded(body, annotations=user or None, app={"team": "a"})
    stamped = messages.stamp(original, sequence_number=seq, offset=seq + 8, enqueued_ms=1234, partition_key=key)
    decoded = decode_payload(memoryview(stamped))
    assert b"".join(decoded.data) == body
    assert decoded.application_properties == {b"team": b"a"}
    assert decoded.properties.message_id == b"m-1"
    ann = decoded.message_annotations
    assert ann[b"x-opt-sequence-number"] == seq
    assert ann[b"x-opt-offset"] == str(seq + 8).encode()
    assert ann[b"x-opt-enqueued-time"] == 1234
    assert ann.get(b"x-opt-partition-key") == (key.encode() if key is not None else None)
    if b"x-opt-custom" in user:
        assert ann[b"x-opt-custom"] == user[b"x-opt-custom"].encode()


def test_malformed_messages_are_rejected_not_stored():
    with pytest.raises(MalformedMessageError):
        messages.stamp(
            b"\x00\x53\x75\xb0\x00\x00\xff\xff", sequence_number=0, offset=8, enqueued_ms=0, partition_key=None
        )
    partition = Partition("usage", "0")
    with pytest.raises(MalformedMessageError):
        partition.append([encoded(b"ok"), b"\x01garbage"], None)
    assert partition.events == []


def test_partition_log_reloads_and_drops_a_torn_tail(tmp_path):
    path = tmp_path / "p.log"
    partition = Partition("usage", "0")
    partition.open_log(path)
    stored = partition.append([encoded(b"one"), encoded(b"two")], "k")
    partition.close()
    assert stored[0].offset == len(LOG_MAGIC) and stored[1].offset > stored[0].offset
    with path.open("ab") as handle:
        handle.write(b"\x00\x00\x01")  # a record cut short by a crash
    reloaded = Partition("usage", "0")
    reloaded.open_log(path)
    assert [(e.sequence_number, e.offset, e.body, e.partition_key) for e in reloaded.events] == [
        (0, stored[0].offset, b"one", "k"),
        (1, stored[1].offset, b"two", "k"),
    ]
    third = reloaded.append([encoded(b"three")], None)[0]
    assert third.sequence_number == 2 and third.offset > stored[1].offset
    reloaded.close()
    again = Partition("usage", "0")
    again.open_log(path)
    assert [e.body for e in again.events] == [b"one", b"two", b"three"]
    again.close()
    assert Partition("usage", "0").start_index(StartPosition("offset", None, False)) == 0


def test_start_index_by_offset_time_and_sequence():
    partition = Partition("usage", "0")
    events = partition.append([encoded(b"a"), encoded(b"b"), encoded(b"c")], None)
    assert partition.start_index(StartPosition("offset", -1, False)) == 0
    assert partition.start_index(StartPosition("offset", events[1].offset, False)) == 2
    assert partition.start_index(StartPosition("offset", events[1].offset, True)) == 1
    assert partition.start_index(StartPosition("sequence", 0, False)) == 1
    assert partition.start_index(StartPosition("sequence", 99, True)) == 3
    assert partition.start_index(StartPosition("time", events[0].enqueued_ms, True)) == 0
    assert partition.start_index(StartPosition("time", events[0].enqueued_ms, False)) == 3


@given(st.text(min_size=1, max_size=50), st.integers(1, 32))
def test_partition_key_hash_is_stable_and_in_range(key, count):
    first = partition_for_key(key, count)
    assert first == partition_for_key(key, count) and 0 <= first < count


def test_hub_specs():
    assert parse_hub_spec("usage") == HubSpec("usage", 4)
    assert parse_hub_spec("usage:8") == HubSpec("usage", 8)
    for bad in ("usage:x", "usage:0", "bad name", ":3"):
        with pytest.raises(HubSpecError):
            parse_hub_spec(bad)
