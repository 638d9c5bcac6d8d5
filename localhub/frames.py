"""AMQP 1.0 framing on the server side, reusing the SDK's own codec (`azure.eventhub._pyamqp`).

The codec is private API of azure-eventhub 5.15.1 (pinned); the contract test fails loudly if an upgrade changes
it. Outgoing transfers, the hot path of every receive, are encoded here by hand.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from azure.eventhub._pyamqp._decode import decode_frame
from azure.eventhub._pyamqp._encode import encode_frame

from localhub.errors import MalformedFrameError

AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
SASL_HEADER = b"AMQP\x03\x01\x00\x00"
FRAME_AMQP = 0
FRAME_SASL = 1

OPEN, BEGIN, ATTACH, FLOW, TRANSFER, DISPOSITION, DETACH, END, CLOSE = range(0x10, 0x19)
SASL_MECHANISMS, SASL_INIT, SASL_CHALLENGE, SASL_RESPONSE, SASL_OUTCOME = range(0x40, 0x45)

_FRAME_HEAD = struct.Struct(">IBBH")
_UINT = struct.Struct(">BI")


class Frame(NamedTuple):
    """One decoded frame: its type, channel, performative code and fields (padded to the full arity)."""

    frame_type: int
    channel: int
    code: int
    fields: list[Any]
    payload: memoryview | None
    """Transfer frames only: the message bytes carried after the performative."""


_ARITY = {OPEN: 10, BEGIN: 8, ATTACH: 14, FLOW: 11, TRANSFER: 11, DISPOSITION: 6, DETACH: 3, END: 1, CLOSE: 1}


def decode(frame: memoryview) -> Frame | None:
    """Decode one whole frame (header included); None for an empty (heartbeat) frame."""
    if len(frame) < 8:
        raise MalformedFrameError(f"frame of {len(frame)} bytes is shorter than its header")
    size, doff, frame_type, channel = _FRAME_HEAD.unpack_from(frame)
    body = frame[doff * 4 : size]
    if not body:
        return None
    if len(body) < 4 or body[0] != 0x00:
        raise MalformedFrameError("frame body is not a described performative")
    try:
        code, fields = decode_frame(body)
    except (IndexError, TypeError, ValueError, struct.error) as exc:
        raise MalformedFrameError(f"cannot decode performative: {exc!r}") from exc
    payload = None
    if code == TRANSFER:
        payload = fields.pop()
    arity = _ARITY.get(code, len(fields))
    if len(fields) < arity:
        fields.extend([None] * (arity - len(fields)))
    return Frame(frame_type, channel, code, fields, payload)


def encode(channel: int, performative: NamedTuple, frame_type: int = FRAME_AMQP) -> bytes:
    """Encode a performative from `azure.eventhub._pyamqp.performatives` into one frame."""
    header, body = encode_frame(performative, frame_type=bytes((frame_type,)))
    return header + channel.to_bytes(2, "big") + (body or b"")


def empty_frame() -> bytes:
    """A heartbeat: a frame with no body."""
    return _FRAME_HEAD.pack(8, 2, FRAME_AMQP, 0)


def encode_transfer(
    channel: int,
    handle: int,
    delivery_id: int,
    payload: bytes | memoryview,
    *,
    more: bool = False,
    settled: bool = True,
) -> bytes:
    """A transfer frame, hand-encoded: handle, delivery-id, delivery-tag, message-format 0, settled, more."""
    # All 11 fields are written: the SDK finds the payload at index 11 of the decoded field list.
    perf = bytearray(b"\x00\x53\x14\xc0\x00\x0b")
    perf += _UINT.pack(0x70, handle)
    perf += _UINT.pack(0x70, delivery_id)
    perf += b"\xa0\x04" + delivery_id.to_bytes(4, "big")
    perf += b"\x43"
    perf += b"\x41" if settled else b"\x42"
    perf += b"\x41" if more else b"\x42"
    perf += b"\x40\x40\x40\x40\x40"  # rcv-settle-mode, state, resume, aborted, batchable
    perf[4] = len(perf) - 5  # list8 size counts the count byte and the items
    return _FRAME_HEAD.pack(8 + len(perf) + len(payload), 2, FRAME_AMQP, channel) + perf + payload


TRANSFER_OVERHEAD = len(encode_transfer(0, 0xFFFFFFFF, 0xFFFFFFFF, b""))
"""Bytes a transfer frame adds around its payload (large messages are split to the peer's frame size)."""
