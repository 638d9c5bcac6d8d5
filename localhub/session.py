"""An AMQP session on the server: its links, transfer ids and windows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from azure.eventhub._pyamqp.performatives import BeginFrame, DetachFrame, EndFrame, FlowFrame

from common.logs import get_logger
from localhub import frames
from localhub.addresses import parse_entity, parse_selector, selector_of
from localhub.errors import UnknownEntityError
from localhub.links import (
    Link,
    OutgoingLink,
    PartitionReader,
    PublisherLink,
    ReplyLink,
    RequestLink,
    amqp_error,
)

if TYPE_CHECKING:
    from localhub.connection import Connection

log = get_logger(__name__)

WINDOW = 2**31 - 1
EPOCH = b"com.microsoft:epoch"
RUNTIME_METRIC = b"com.microsoft:enable-receiver-runtime-metric"


class Session:
    def __init__(self, connection: Connection, channel: int, begin: list[Any]) -> None:
        self.connection = connection
        self.channel = channel
        self.links: dict[int, Link] = {}
        self.next_incoming_id = begin[1] or 0
        self.next_outgoing_id = 0
        self.next_delivery_id = 0
        self.remote_window = begin[2] if begin[2] is not None else WINDOW
        self.pending_replies: dict[str, list[bytes]] = {}
        self.ended = False

    def send_begin(self) -> None:
        self.send_performative(
            BeginFrame(
                remote_channel=self.channel,
                next_outgoing_id=self.next_outgoing_id,
                incoming_window=WINDOW,
                outgoing_window=WINDOW,
                handle_max=65535,
                offered_capabilities=None,
                desired_capabilities=None,
                properties=None,
            )
        )

    def send_performative(self, performative: NamedTuple) -> None:
        if not self.ended:
            self.connection.write(frames.encode(self.channel, performative))

    # -- frames from the client ---------------------------------------------------------------------------------

    def on_attach(self, fields: list[Any]) -> None:
        name, handle = fields[0], fields[1]
        if handle in self.links:  # re-attach on a live handle: drop the old link first
            self.links[handle].detach(amqp_error("amqp:session:handle-in-use", "handle re-attached"))
        client_is_receiver = bool(fields[2])
        source, target = fields[5], fields[6]
        address_field = source[0] if client_is_receiver and source else (target[0] if target else None)
        address = parse_entity(address_field)
        broker = self.connection.broker
        link: Link
        if address is None:
            link = Link(self, name, handle, None, fields)
            self._refuse(link, "amqp:not-found", f"unknown address {address_field!r}")
            return
        if address.node is not None:
            link = (ReplyLink if client_is_receiver else RequestLink)(self, name, handle, address, fields)
            self.links[handle] = link
            link.attach_reply()
            if isinstance(link, RequestLink):
                link.grant_credit()
            else:
                self.reply_link_attached(link)
            return
        try:
            hub = broker.store.hub(address.hub or "")
            partition = (
                broker.store.partition(hub.name, address.partition_id) if address.partition_id is not None else None
            )
        except UnknownEntityError as exc:
            self._refuse(Link(self, name, handle, address, fields), "amqp:not-found", str(exc))
            return
        if not client_is_receiver:
            if address.consumer_group is not None:
                self._refuse(
                    Link(self, name, handle, address, fields), "amqp:not-allowed", "cannot send to a consumer group"
                )
                return
            link = PublisherLink(self, name, handle, address, fields)
            self.links[handle] = link
            link.attach_reply()
            link.grant_credit()
            return
        if partition is None or address.consumer_group is None:
            self._refuse(
                Link(self, name, handle, address, fields),
                "amqp:not-found",
                "receive from <hub>/ConsumerGroups/<group>/Partitions/<id>",
            )
            return
        try:
            position = parse_selector(selector_of(source))
        except ValueError as exc:
            self._refuse(Link(self, name, handle, address, fields), "amqp:invalid-field", str(exc))
            return
        properties = fields[13] or {}
        epoch = properties.get(EPOCH)
        desired = fields[12] or []
        runtime_metric = RUNTIME_METRIC in desired
        reader = PartitionReader(
            self,
            name,
            handle,
            address,
            fields,
            partition=partition,
            start=partition.start_index(position),
            epoch=epoch,
            runtime_metric=runtime_metric,
        )
        refusal = broker.admit_reader(reader)
        if refusal is not None:
            self._refuse(reader, refusal.condition, refusal.description)
            return
        self.links[handle] = reader
        reader.attach_reply(
            offered=[RUNTIME_METRIC] if runtime_metric else None,
            properties={EPOCH: epoch} if epoch is not None else None,
        )
        log.debug(
            "reader_attached",
            hub=partition.hub,
            partition=partition.partition_id,
            group=reader.consumer_group,
            start=reader.cursor,
            epoch=epoch,
        )

    def _refuse(self, link: Link, condition: str | bytes, description: str) -> None:
        log.debug("attach_refused", condition=condition, description=description)
        link.attach_reply(refuse=True)
        link.detached = True
        self.send_performative(frames_detach(link.handle, amqp_error(condition, description)))

    def on_flow(self, fields: list[Any]) -> None:
        next_incoming = fields[0] if fields[0] is not None else 0
        self.remote_window = next_incoming + (fields[1] or 0) - self.next_outgoing_id
        handle = fields[4]
        if handle is not None:
            link = self.links.get(handle)
            if link is not None:
                link.on_flow(fields)
            return
        for link in list(self.links.values()):
            if isinstance(link, OutgoingLink):
                link.pump()

    def on_transfer(self, fields: list[Any], payload: memoryview) -> None:
        self.next_incoming_id += 1
        link = self.links.get(fields[0])
        if link is None:
            log.debug("transfer_on_unknown_handle_ignored", handle=fields[0])
            return
        link.on_transfer(fields, payload)

    def on_detach(self, fields: list[Any]) -> None:
        link = self.links.pop(fields[0], None)
        if link is None:
            return  # duplicate detach or a reply to ours
        link.detached = True
        self.send_performative(frames_detach(link.handle, None))
        link.on_detached()

    def on_end(self) -> None:
        self.send_performative(EndFrame(error=None))
        self.close()

    def close(self) -> None:
        """Drop every link (connection lost or session ended) without sending anything."""
        self.ended = True
        for link in list(self.links.values()):
            link.detached = True
            link.on_detached()
        self.links.clear()

    # -- frames to the client -----------------------------------------------------------------------------------

    def forget(self, link: Link) -> None:
        if self.links.get(link.handle) is link:
            del self.links[link.handle]

    def can_send(self) -> bool:
        return self.remote_window > 0 and not self.ended and self.connection.writable()

    def send_message(self, link: OutgoingLink, message: bytes) -> None:
        delivery_id = self.next_delivery_id
        self.next_delivery_id = (delivery_id + 1) & 0xFFFFFFFF
        room = self.connection.peer_max_frame - frames.TRANSFER_OVERHEAD
        view = memoryview(message)
        out = bytearray()
        while True:
            chunk, view = view[:room], view[room:]
            out += frames.encode_transfer(
                self.channel, link.handle, delivery_id, chunk, more=bool(view), settled=link.settled
            )
            self.next_outgoing_id = (self.next_outgoing_id + 1) & 0xFFFFFFFF
            self.remote_window -= 1
            if not view:
                break
        self.connection.write(out)

    def send_link_flow(self, link: Link, *, delivery_count: int, link_credit: int, drain: bool = False) -> None:
        self.send_performative(
            FlowFrame(
                next_incoming_id=self.next_incoming_id,
                incoming_window=WINDOW,
                next_outgoing_id=self.next_outgoing_id,
                outgoing_window=WINDOW,
                handle=link.handle,
                delivery_count=delivery_count,
                link_credit=link_credit,
                available=None,
                drain=drain,
                echo=False,
                properties=None,
            )
        )

    def post_reply(self, node: str, reply: bytes) -> None:
        for link in self.links.values():
            if isinstance(link, ReplyLink) and link.address is not None and link.address.node == node:
                link.post(reply)
                return
        self.pending_replies.setdefault(node, []).append(reply)

    def reply_link_attached(self, link: ReplyLink) -> None:
        for reply in self.pending_replies.pop(link.address.node if link.address else "", []):
            link.post(reply)


def frames_detach(handle: int, error: Any) -> NamedTuple:
    return DetachFrame(handle=handle, closed=True, error=error)
