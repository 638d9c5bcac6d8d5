"""One client connection: protocol headers, SASL (any mechanism is accepted), open/close, frame dispatch.

A bad client never takes the server down: malformed bytes close that connection with a framing error, and an
unexpected exception while handling a frame closes it with `amqp:internal-error` (logged at debug).
"""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from typing import TYPE_CHECKING, Any

from azure.eventhub._pyamqp.error import AMQPError
from azure.eventhub._pyamqp.performatives import CloseFrame, OpenFrame, SASLMechanism, SASLOutcome

from common.logs import get_logger
from localhub import frames
from localhub.errors import MalformedFrameError
from localhub.session import Session

if TYPE_CHECKING:
    from localhub.broker import Broker

log = get_logger(__name__)

MAX_FRAME = 1024 * 1024
"""The largest frame the server accepts; bigger messages arrive split into several transfers."""
MAX_BUFFERED = 8 * 1024 * 1024
"""Bytes queued for a slow client before its readers stop sending until the socket drains."""
_SIZE = struct.Struct(">I")


class Connection(asyncio.Protocol):
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._phase = "header"
        self.sessions: dict[int, Session] = {}
        self.peer_max_frame = MAX_FRAME
        self._paused = False
        self._heartbeat: asyncio.TimerHandle | None = None
        self._heartbeat_interval = 0.0
        self.closed = False
        self.peer = ""

    # -- asyncio.Protocol ----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=MAX_BUFFERED)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.broker.connections.add(self)
        log.debug("client_connected", peer=self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        for session in list(self.sessions.values()):
            session.close()
        self.sessions.clear()
        self.broker.connections.discard(self)
        log.debug("client_disconnected", peer=self.peer, error=repr(exc) if exc else None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for session in list(self.sessions.values()):
            session.on_flow([None] * 11)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        pos = 0
        try:
            pos = self._consume()
        except MalformedFrameError as exc:
            log.debug("malformed_frame_connection_closed", peer=self.peer, error=str(exc))
            self.close(AMQPError(condition=b"amqp:connection:framing-error", description=str(exc), info=None))
        except Exception as exc:
            log.debug("frame_failed_connection_closed", peer=self.peer, exc_info=exc)
            self.close(AMQPError(condition=b"amqp:internal-error", description=repr(exc), info=None))
        finally:
            # A new buffer rather than an in-place delete: views of the old one may still be referenced.
            if self.closed:
                self._buffer = bytearray()
            elif pos:
                self._buffer = self._buffer[pos:]

    # -- framing -------------------------------------------------------------------------------------------------

    def _consume(self) -> int:
        buffer = self._buffer
        view = memoryview(buffer)
        pos = 0
        while not self.closed:
            if self._phase == "header":
                if len(buffer) - pos < 8:
                    break
                self._on_header(bytes(view[pos : pos + 8]))
                pos += 8
                continue
            if len(buffer) - pos < 8:
                break
            size = _SIZE.unpack_from(buffer, pos)[0]
            if size < 8 or size > MAX_FRAME + 4096:
                raise MalformedFrameError(f"frame size {size} outside 8..{MAX_FRAME}")
            if len(buffer) - pos < size:
                break
            frame = frames.decode(view[pos : pos + size])
            pos += size
            if frame is not None:
                self._on_frame(frame)
        return pos

    def _on_header(self, header: bytes) -> None:
        if header == frames.SASL_HEADER:
            self.write(frames.SASL_HEADER)
            self.write(
                frames.encode(
                    0,
                    SASLMechanism(sasl_server_mechanisms=[b"ANONYMOUS", b"PLAIN", b"MSSBCBS", b"EXTERNAL"]),
                    frames.FRAME_SASL,
                )
            )
            self._phase = "sasl"
        elif header == frames.AMQP_HEADER:
            self.write(frames.AMQP_HEADER)
            self._phase = "amqp"
        else:
            self.write(frames.AMQP_HEADER)
            raise MalformedFrameError(f"unsupported protocol header {header!r}")

    def _on_frame(self, frame: frames.Frame) -> None:
        if self._phase == "sasl":
            if frame.code in (frames.SASL_INIT, frames.SASL_RESPONSE):
                self.write(frames.encode(0, SASLOutcome(code=0, additional_data=None), frames.FRAME_SASL))
                self._phase = "header"
            return
        code, fields, channel = frame.code, frame.fields, frame.channel
        if code == frames.TRANSFER:
            session = self.sessions.get(channel)
            if session is not None and frame.payload is not None:
                session.on_transfer(fields, frame.payload)
        elif code == frames.FLOW:
            session = self.sessions.get(channel)
            if session is not None:
                session.on_flow(fields)
        elif code == frames.DISPOSITION:
            pass  # deliveries to clients are settled on send, or the outcome does not matter
        elif code == frames.ATTACH:
            session = self.sessions.get(channel)
            if session is not None:
                session.on_attach(fields)
        elif code == frames.DETACH:
            session = self.sessions.get(channel)
            if session is not None:
                session.on_detach(fields)
        elif code == frames.BEGIN:
            if channel in self.sessions:
                log.debug("begin_on_busy_channel_ignored", channel=channel)
                return
            session = Session(self, channel, fields)
            self.sessions[channel] = session
            session.send_begin()
        elif code == frames.END:
            session = self.sessions.pop(channel, None)
            if session is not None:
                session.on_end()
        elif code == frames.OPEN:
            self._on_open(fields)
        elif code == frames.CLOSE:
            self.close(None)
        else:
            log.debug("unknown_performative_ignored", code=code)

    def _on_open(self, fields: list[Any]) -> None:
        self.peer_max_frame = max(512, min(fields[2] or MAX_FRAME, 16 * MAX_FRAME))
        self.write(
            frames.encode(
                0,
                OpenFrame(
                    container_id=f"localhub-{uuid.uuid4().hex[:12]}",
                    hostname=None,
                    max_frame_size=MAX_FRAME,
                    channel_max=65535,
                    idle_timeout=None,
                    outgoing_locales=None,
                    incoming_locales=None,
                    offered_capabilities=None,
                    desired_capabilities=None,
                    properties=None,
                ),
            )
        )
        if fields[4]:  # the client's idle timeout (ms): keep the connection alive at twice that rate
            self._heartbeat_interval = fields[4] / 2000
            self._schedule_heartbeat()

    def _schedule_heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        self._heartbeat = loop.call_later(self._heartbeat_interval, self._beat)

    def _beat(self) -> None:
        if not self.closed:
            self.write(frames.empty_frame())
            self._schedule_heartbeat()

    # -- output --------------------------------------------------------------------------------------------------

    def write(self, data: bytes | bytearray) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def writable(self) -> bool:
        return not self._paused and not self.closed

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000

    def close(self, error: AMQPError | None) -> None:
        """Graceful close: a close frame (with the error, if any), then the socket."""
        if self.closed:
            return
        self.write(frames.encode(0, CloseFrame(error=error)))
        self.closed = True
        for session in list(self.sessions.values()):
            session.close()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Fault injection: drop the socket with no close frame, as a network failure would."""
        if self.transport is not None:
            self.transport.abort()
