"""AMQP messages as Event Hubs stores and delivers them.

A stored event is kept *delivery-ready*: the client's encoded sections with the broker annotations
(`x-opt-sequence-number`, `x-opt-offset`, `x-opt-enqueued-time`, `x-opt-partition-key`) spliced into its
message-annotations section, byte for byte otherwise. Delivering an event is then a frame header plus these bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from azure.eventhub._pyamqp._decode import _DECODE_BY_CONSTRUCTOR, decode_payload
from azure.eventhub._pyamqp._encode import encode_payload, encode_value
from azure.eventhub._pyamqp.message import Message, Properties
from azure.eventhub._pyamqp.types import TYPE, VALUE, AMQPTypes

from localhub.errors import MalformedMessageError

BATCH_FORMAT = 0x80013700
"""Message format of an SDK batch: each `data` section is one whole encoded event."""

HEADER, DELIVERY_ANNOTATIONS, MESSAGE_ANNOTATIONS, PROPERTIES = 0x70, 0x71, 0x72, 0x73
DATA = 0x75

SEQUENCE_NUMBER = b"x-opt-sequence-number"
OFFSET = b"x-opt-offset"
ENQUEUED_TIME = b"x-opt-enqueued-time"
PARTITION_KEY = b"x-opt-partition-key"
_BROKER_KEYS = frozenset({SEQUENCE_NUMBER, OFFSET, ENQUEUED_TIME, PARTITION_KEY})

_LONG = struct.Struct(">q")
_MAP32 = struct.Struct(">BII")


_WIDTH1 = frozenset({0xA0, 0xA1, 0xA3, 0xC0, 0xC1, 0xE0})
_WIDTH4 = frozenset({0xB0, 0xB1, 0xB3, 0xD0, 0xD1, 0xF0})


def _check_fits(view: memoryview, at: int) -> None:
    """A variable-width value must fit in what is left (the SDK's decoder slices without checking)."""
    ctor, room = view[at], len(view) - at - 1
    if ctor in _WIDTH1:
        size = 1 + (view[at + 1] if room >= 1 else 1 << 30)
    elif ctor in _WIDTH4:
        size = 4 + (int.from_bytes(view[at + 1 : at + 5], "big") if room >= 4 else 1 << 30)
    else:
        return
    if size > room:
        raise MalformedMessageError(f"byte {at}: value of {size} bytes overruns the message")


@dataclass(frozen=True)
class Section:
    descriptor: int
    start: int
    end: int
    value_start: int


def sections(message: bytes | memoryview) -> Iterator[Section]:
    """Walk the sections of an encoded message, checking each one decodes."""
    view = memoryview(message)
    size = len(view)
    pos = 0
    while pos < size:
        try:
            if view[pos] != 0x00:
                raise MalformedMessageError(f"byte {pos}: expected a described section")
            ctor = view[pos + 1]
            if ctor == 0x53:
                descriptor, value_start = view[pos + 2], pos + 3
            elif ctor == 0x80:
                descriptor, value_start = int.from_bytes(view[pos + 2 : pos + 10], "big"), pos + 10
            else:
                raise MalformedMessageError(f"byte {pos}: section descriptor is not a ulong")
            _check_fits(view, value_start)
            decoder = _DECODE_BY_CONSTRUCTOR[view[value_start]]
            if decoder is None:
                raise MalformedMessageError(f"byte {value_start}: unknown constructor {view[value_start]:#x}")
            rest, _ = decoder(view[value_start + 1 :])
        except (IndexError, TypeError, ValueError, struct.error) as exc:
            raise MalformedMessageError(f"truncated or malformed section at byte {pos}: {exc!r}") from exc
        end = size - len(rest)
        yield Section(descriptor, pos, end, value_start)
        pos = end


def _map_entries(view: memoryview) -> Iterator[tuple[bytes, Any, memoryview]]:
    """(key, value, raw key+value bytes) of an encoded map (constructor byte first)."""
    ctor = view[0]
    if ctor == 0x40:
        return
    if ctor == 0xC1:
        count, pos = view[2], 3
    elif ctor == 0xD1:
        count, pos = int.from_bytes(view[5:9], "big"), 9
    else:
        raise MalformedMessageError(f"annotations are not a map (constructor {ctor:#x})")
    for _ in range(count // 2):
        start = pos
        rest, key = _DECODE_BY_CONSTRUCTOR[view[pos]](view[pos + 1 :])
        pos = len(view) - len(rest)
        rest, value = _DECODE_BY_CONSTRUCTOR[view[pos]](view[pos + 1 :])
        pos = len(view) - len(rest)
        yield key, value, view[start:pos]


def message_annotations(message: bytes | memoryview) -> dict[bytes, Any]:
    """The decoded message annotations of an encoded message ({} if none)."""
    view = memoryview(message)
    for section in sections(view):
        if section.descriptor == MESSAGE_ANNOTATIONS:
            return {k: v for k, v, _ in _map_entries(view[section.value_start : section.end])}
    return {}


def partition_key_of(message: bytes | memoryview) -> str | None:
    value = message_annotations(message).get(PARTITION_KEY)
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def batch_events(message: bytes | memoryview) -> list[bytes]:
    """The encoded events inside an SDK batch message (one per data section)."""
    view = memoryview(message)
    events: list[bytes] = []
    for section in sections(view):
        if section.descriptor == DATA:
            _, body = _DECODE_BY_CONSTRUCTOR[view[section.value_start]](view[section.value_start + 1 : section.end])
            events.append(body)
    return events


def _symbol(name: bytes) -> bytes:
    return b"\xa3" + bytes((len(name),)) + name


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) < 256:
        return b"\xa1" + bytes((len(data),)) + data
    return b"\xb1" + len(data).to_bytes(4, "big") + data


_SEQ_KEY, _OFF_KEY, _TIME_KEY, _PKEY_KEY = (_symbol(k) for k in (SEQUENCE_NUMBER, OFFSET, ENQUEUED_TIME, PARTITION_KEY))


def stamp(
    event: bytes | memoryview, *, sequence_number: int, offset: int, enqueued_ms: int, partition_key: str | None
) -> bytes:
    """The event re-emitted with the broker annotations; delivery annotations of the sender are dropped."""
    view = memoryview(event)
    head: list[memoryview] = []
    tail: list[memoryview] = []
    pairs = bytearray()
    count = 0
    for section in sections(view):
        if section.descriptor == MESSAGE_ANNOTATIONS:
            for key, _, raw in _map_entries(view[section.value_start : section.end]):
                if key not in _BROKER_KEYS:
                    pairs += raw
                    count += 2
        elif section.descriptor == DELIVERY_ANNOTATIONS:
            continue
        elif section.descriptor < MESSAGE_ANNOTATIONS:
            head.append(view[section.start : section.end])
        else:
            tail.append(view[section.start : section.end])
    pairs += _SEQ_KEY + b"\x81" + _LONG.pack(sequence_number)
    pairs += _OFF_KEY + _string(str(offset))
    pairs += _TIME_KEY + b"\x83" + _LONG.pack(enqueued_ms)
    count += 6
    if partition_key is not None:
        pairs += _PKEY_KEY + _string(partition_key)
        count += 2
    out = bytearray()
    for part in head:
        out += part
    out += b"\x00\x53\x72" + _MAP32.pack(0xD1, len(pairs) + 4, count) + pairs
    for part in tail:
        out += part
    return bytes(out)


def runtime_info(*, sequence_number: int, offset: int, enqueued_ms: int, retrieved_ms: int) -> bytes:
    """A delivery-annotations section with the partition's last-enqueued properties (appended last, as the
    service does: the SDK decodes sections in any order)."""
    entries = (
        (b"last_enqueued_sequence_number", {TYPE: AMQPTypes.long, VALUE: sequence_number}),
        (b"last_enqueued_offset", {TYPE: AMQPTypes.string, VALUE: str(offset)}),
        (b"last_enqueued_time_utc", {TYPE: AMQPTypes.timestamp, VALUE: enqueued_ms}),
        (b"runtime_info_retrieval_time_utc", {TYPE: AMQPTypes.timestamp, VALUE: retrieved_ms}),
    )
    out = bytearray()
    encode_value(
        out,
        {
            TYPE: AMQPTypes.described,
            VALUE: (
                {TYPE: AMQPTypes.ulong, VALUE: DELIVERY_ANNOTATIONS},
                {TYPE: AMQPTypes.map, VALUE: [({TYPE: AMQPTypes.symbol, VALUE: k}, v) for k, v in entries]},
            ),
        },
    )
    return bytes(out)


def body_of(message: bytes) -> bytes:
    """The event body (its data sections joined), as `EventData.body_as_str` sees it."""
    decoded = decode_payload(memoryview(message))
    if decoded.data:
        return b"".join(decoded.data)
    if decoded.value is not None:
        return decoded.value if isinstance(decoded.value, bytes) else str(decoded.value).encode()
    return b""


def decode(message: bytes | memoryview) -> Message:
    try:
        return decode_payload(memoryview(message))
    except (IndexError, TypeError, ValueError, struct.error) as exc:
        raise MalformedMessageError(f"cannot decode message: {exc!r}") from exc


def reply(correlation_id: Any, status_code: int, description: str, value: Any = None) -> bytes:
    """A request/response reply ($cbs, $management). Both spellings of the status fields are sent: the SDK's
    CBS link reads `status-code`, its management link defaults to `statusCode`."""
    message = Message(
        properties=Properties(correlation_id=correlation_id),
        application_properties={
            "status-code": {TYPE: AMQPTypes.int, VALUE: status_code},
            "statusCode": {TYPE: AMQPTypes.int, VALUE: status_code},
            "status-description": description,
            "statusDescription": description,
        },
        value=value,
    )
    return bytes(encode_payload(bytearray(), message))
