"""The `$cbs` node: claims-based security. Every `put-token` is accepted (the server does no authentication)."""

from __future__ import annotations

from azure.eventhub._pyamqp.message import Message

from localhub import messages


def handle(request: Message, *, refuse: bool = False) -> bytes:
    """Reply 202 to `put-token` (401 when the `refuse_tokens` fault is on); anything else is a 400. The token is
    never logged or kept."""
    props = request.application_properties or {}
    operation = props.get(b"operation")
    message_id = request.properties.message_id if request.properties else None
    if operation != b"put-token":
        return messages.reply(message_id, 400, f"unsupported $cbs operation {operation!r}")
    if refuse:
        return messages.reply(message_id, 401, "Unauthorized: token refused (localhub fault refuse_tokens)")
    return messages.reply(message_id, 202, "Accepted")
