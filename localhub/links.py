"""Link endpoints on the server side.

Incoming links carry client deliveries to the server (publishers, `$cbs`/`$management` requests); outgoing links
carry server deliveries to the client (partition readers, request replies). Credit and delivery counts follow
AMQP 1.0 section 2.6.7; a receiver's `drain` is honoured.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from azure.eventhub._pyamqp.endpoints import Source, Target
from azure.eventhub._pyamqp.error import AMQPError
from azure.eventhub._pyamqp.outcomes import Accepted, Rejected
from azure.eventhub._pyamqp.performatives import AttachFrame, DetachFrame, DispositionFrame

from common.logs import get_logger
from localhub import messages
from localhub.addresses import EntityAddress
from localhub.storage import Partition

if TYPE_CHECKING:
    from localhub.session import Session

log = get_logger(__name__)

INCOMING_CREDIT = 1000
MAX_MESSAGE_BYTES = 1024 * 1024
SETTLE_UNSETTLED, SETTLE_SETTLED = 0, 1


def amqp_error(condition: str | bytes, description: str) -> AMQPError:
    return AMQPError(
        condition=condition.encode() if isinstance(condition, str) else condition, description=description, info=None
    )


class Link:
    """One attached link; `handle` is the client's handle, reused as the server's."""

    def __init__(
        self, session: Session, name: bytes, handle: int, address: EntityAddress | None, attach_fields: list[Any]
    ) -> None:
        self.session = session
        self.name = name
        self.handle = handle
        self.address = address
        self.attach_fields = attach_fields
        self.detached = False

    @property
    def client_is_receiver(self) -> bool:
        return bool(self.attach_fields[2])

    def attach_reply(
        self, *, refuse: bool = False, offered: list[bytes] | None = None, properties: dict[bytes, Any] | None = None
    ) -> None:
        """Echo the client's attach. A refused attach still carries source and target (the SDK treats a null
        one as a silent failure and retries), and is followed by a detach with the error."""
        source, target = self.attach_fields[5], self.attach_fields[6]
        source_address = source[0] if source else None
        target_address = target[0] if target else None
        self.session.send_performative(
            AttachFrame(
                name=self.name,
                handle=self.handle,
                role=not self.client_is_receiver,
                send_settle_mode=self.attach_fields[3] if self.attach_fields[3] is not None else 2,
                rcv_settle_mode=0,
                source=Source(address=source_address or target_address or b""),
                target=Target(address=target_address or source_address or b""),
                unsettled=None,
                incomplete_unsettled=False,
                initial_delivery_count=0 if self.client_is_receiver else None,
                max_message_size=MAX_MESSAGE_BYTES,
                offered_capabilities=None if refuse else offered,
                desired_capabilities=None,
                properties=None if refuse else properties,
            )
        )

    def detach(self, error: AMQPError | None = None) -> None:
        """Server-initiated detach (closing); later frames for this handle are ignored."""
        if self.detached:
            return
        self.detached = True
        self.session.send_performative(DetachFrame(handle=self.handle, closed=True, error=error))
        self.session.forget(self)
        self.on_detached()

    def on_detached(self) -> None:
        """Release whatever the link holds (readers leave their partition)."""

    def on_flow(self, fields: list[Any]) -> None:
        """A flow frame naming this link."""

    def on_transfer(self, fields: list[Any], payload: memoryview) -> None:
        log.debug("transfer_on_receiving_link_ignored", link=self.name)


class IncomingLink(Link):
    """The client sends; the server grants credit and settles every delivery."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.delivery_count = self.attach_fields[9] or 0
        self.credit_until = self.delivery_count
        self._partial = bytearray()
        self._first: list[Any] | None = None

    def grant_credit(self) -> None:
        self.credit_until = self.delivery_count + INCOMING_CREDIT
        self.session.send_link_flow(self, delivery_count=self.delivery_count, link_credit=INCOMING_CREDIT)

    def on_flow(self, fields: list[Any]) -> None:
        if fields[9] or (fields[6] is not None and fields[6] <= 0):  # echo requested or sender out of credit
            self.grant_credit()

    def on_transfer(self, fields: list[Any], payload: memoryview) -> None:
        if self._first is None:
            self._first = fields
        if fields[9]:  # aborted
            self._partial.clear()
            self._first = None
            return
        if fields[5]:  # more
            self._partial += payload
            if len(self._partial) > MAX_MESSAGE_BYTES * 2:
                self._partial.clear()
                self._first = None
                self.detach(amqp_error("amqp:link:message-size-exceeded", "message exceeds 1 MB"))
            return
        first, self._first = self._first, None
        if self._partial:
            self._partial += payload
            message = bytes(self._partial)
            self._partial.clear()
        else:
            message = bytes(payload)
        self.delivery_count += 1
        error = self.receive(first, message)
        if not first[4]:  # not pre-settled by the client: settle it
            state = Accepted() if error is None else Rejected(error=error)
            self.session.send_performative(
                DispositionFrame(role=True, first=first[1], last=first[1], settled=True, state=state, batchable=None)
            )
        if self.credit_until - self.delivery_count < INCOMING_CREDIT // 2:
            self.grant_credit()

    def receive(self, first: list[Any], message: bytes) -> AMQPError | None:
        """Handle one whole message; return an error to reject it."""
        raise NotImplementedError


class OutgoingLink(Link):
    """The server sends within the credit the client grants."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.delivery_count = 0
        self.credit = 0
        self.drain = False
        self.settled = self.attach_fields[3] != SETTLE_UNSETTLED

    def on_flow(self, fields: list[Any]) -> None:
        delivery_count = fields[5] if fields[5] is not None else 0
        if fields[6] is not None:
            self.credit = max(0, delivery_count + fields[6] - self.delivery_count)
        self.drain = bool(fields[8])
        self.pump()
        if fields[9]:  # echo
            self.session.send_link_flow(self, delivery_count=self.delivery_count, link_credit=self.credit)

    def send(self, message: bytes) -> None:
        self.session.send_message(self, message)
        self.credit -= 1
        self.delivery_count += 1

    def pump(self) -> None:
        """Send what is available within the credit, then answer a drain."""
        self.send_available()
        if self.drain and self.credit > 0 and not self.detached:
            self.delivery_count += self.credit
            self.credit = 0
            self.session.send_link_flow(self, delivery_count=self.delivery_count, link_credit=0, drain=True)

    def send_available(self) -> None:
        raise NotImplementedError


class ReplyLink(OutgoingLink):
    """Responses of a request/response node (`$cbs`, `$management`) to the client."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.outbox: deque[bytes] = deque()

    def post(self, message: bytes) -> None:
        self.outbox.append(message)
        self.pump()

    def send_available(self) -> None:
        while self.outbox and self.credit > 0 and self.session.can_send() and not self.detached:
            self.send(self.outbox.popleft())


class PartitionReader(OutgoingLink):
    """A consumer's receive link on `<hub>/ConsumerGroups/<cg>/Partitions/<id>`."""

    def __init__(self, *args: Any, partition: Partition, start: int, epoch: int | None, runtime_metric: bool) -> None:
        super().__init__(*args)
        self.partition = partition
        self.cursor = start
        self.epoch = epoch
        self.runtime_metric = runtime_metric
        self.consumer_group = (self.address.consumer_group if self.address else None) or "$Default"

    def send_available(self) -> None:
        events = self.partition.events
        session = self.session
        while self.credit > 0 and self.cursor < len(events) and session.can_send() and not self.detached:
            message = events[self.cursor].message
            if self.runtime_metric:
                last = events[-1]
                message += messages.runtime_info(
                    sequence_number=last.sequence_number,
                    offset=last.offset,
                    enqueued_ms=last.enqueued_ms,
                    retrieved_ms=session.connection.now_ms(),
                )
            self.send(message)
            self.cursor += 1

    def on_detached(self) -> None:
        self.session.connection.broker.remove_reader(self)


class PublisherLink(IncomingLink):
    """A producer's send link on `<hub>` or `<hub>/Partitions/<id>`."""

    def receive(self, first: list[Any], message: bytes) -> AMQPError | None:
        assert self.address is not None and self.address.hub is not None
        return self.session.connection.broker.publish(
            self.address.hub, self.address.partition_id, message, batch=first[3] == messages.BATCH_FORMAT
        )


class RequestLink(IncomingLink):
    """Requests to `$cbs` or `$management`; replies go out on the session's reply link for the same node."""

    def receive(self, first: list[Any], message: bytes) -> AMQPError | None:
        assert self.address is not None and self.address.node is not None
        node = self.address.node
        try:
            request = messages.decode(message)
        except ValueError as exc:
            return amqp_error("amqp:decode-error", str(exc))
        reply = self.session.connection.broker.handle_request(node, request)
        self.session.post_reply(node, reply)
        return None
