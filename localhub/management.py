"""The `$management` node: `READ` of `com.microsoft:eventhub` and `com.microsoft:partition`."""

from __future__ import annotations

from typing import Any

from azure.eventhub._pyamqp.message import Message
from azure.eventhub._pyamqp.types import TYPE, VALUE, AMQPTypes

from localhub import messages
from localhub.errors import UnknownEntityError
from localhub.storage import Store


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def _timestamp(ms: int) -> dict[str, Any]:
    return {TYPE: AMQPTypes.timestamp, VALUE: ms}


def _long(value: int) -> dict[str, Any]:
    return {TYPE: AMQPTypes.long, VALUE: value}


def handle(request: Message, store: Store) -> bytes:
    props = request.application_properties or {}
    message_id = request.properties.message_id if request.properties else None
    operation, kind = _text(props.get(b"operation")), _text(props.get(b"type"))
    if operation != "READ":
        return messages.reply(message_id, 400, f"unsupported $management operation {operation!r}")
    try:
        hub = store.hub(_text(props.get(b"name")))
        if kind == "com.microsoft:eventhub":
            return messages.reply(
                message_id,
                200,
                "OK",
                {
                    "name": hub.name,
                    "type": kind,
                    "created_at": _timestamp(hub.created_ms),
                    "partition_count": {TYPE: AMQPTypes.int, VALUE: len(hub.partitions)},
                    "partition_ids": {
                        TYPE: AMQPTypes.array,
                        VALUE: [{TYPE: AMQPTypes.string, VALUE: pid} for pid in hub.partition_ids],
                    },
                },
            )
        if kind == "com.microsoft:partition":
            partition = store.partition(hub.name, _text(props.get(b"partition")))
            last = partition.last
            return messages.reply(
                message_id,
                200,
                "OK",
                {
                    "name": hub.name,
                    "type": kind,
                    "partition": partition.partition_id,
                    "begin_sequence_number": _long(0),
                    "last_enqueued_sequence_number": _long(last.sequence_number if last else -1),
                    "last_enqueued_offset": last.offset_str if last else "-1",
                    "last_enqueued_time_utc": _timestamp(last.enqueued_ms if last else 0),
                    "is_partition_empty": last is None,
                },
            )
    except UnknownEntityError as exc:
        return messages.reply(message_id, 404, str(exc))
    return messages.reply(message_id, 400, f"unsupported $management type {kind!r}")
