"""Link addresses and selector filters as the SDK sends them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from localhub.storage import StartPosition

CBS_NODE = "$cbs"
MANAGEMENT_NODE = "$management"
SELECTOR_FILTER = b"apache.org:selector-filter:string"

_SELECTOR = re.compile(
    r"amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time)\s*(>=|>)\s*'([^']*)'", re.IGNORECASE
)
_FIELDS = {"offset": "offset", "sequence-number": "sequence", "enqueued-time": "time"}


@dataclass(frozen=True)
class EntityAddress:
    """`<hub>`, `<hub>/Partitions/<id>`, `<hub>/ConsumerGroups/<cg>/Partitions/<id>`, or a node (`$cbs`)."""

    node: str | None = None
    hub: str | None = None
    consumer_group: str | None = None
    partition_id: str | None = None


def path_of(address: bytes | str | None) -> str:
    """The path of a link address; `amqps://host:port/` is ignored (the SDK keeps the TLS scheme)."""
    if address is None:
        return ""
    text = address.decode("utf-8", "replace") if isinstance(address, bytes) else str(address)
    if "://" in text:
        text = urlparse(text).path
    return unquote(text).strip("/")


def parse_entity(address: bytes | str | None) -> EntityAddress | None:
    """None if the address is not one the server understands."""
    parts = path_of(address).split("/")
    if len(parts) == 1 and parts[0].lower() in (CBS_NODE, MANAGEMENT_NODE):
        return EntityAddress(node=parts[0].lower())
    if len(parts) == 1 and parts[0]:
        return EntityAddress(hub=parts[0])
    if len(parts) == 3 and parts[1].lower() == "partitions":
        return EntityAddress(hub=parts[0], partition_id=parts[2])
    if len(parts) == 5 and parts[1].lower() == "consumergroups" and parts[3].lower() == "partitions":
        return EntityAddress(hub=parts[0], consumer_group=parts[2], partition_id=parts[4])
    return None


def parse_selector(selector: bytes | str | None) -> StartPosition:
    """The start position a receiver asked for; no filter means the start of the partition."""
    if selector is None:
        return StartPosition("offset", -1, False)
    text = selector.decode("utf-8", "replace") if isinstance(selector, bytes) else str(selector)
    match = _SELECTOR.search(text)
    if match is None:
        raise ValueError(f"unsupported selector filter {text!r}")
    field, operator, raw = _FIELDS[match.group(1).lower()], match.group(2), match.group(3)
    inclusive = operator == ">="
    if field == "offset" and raw == "@latest":
        return StartPosition("offset", None, inclusive)
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"selector value {raw!r} is not a number") from None
    if field == "offset" and value < 0:
        return StartPosition("offset", -1, False)
    return StartPosition(field, value, inclusive)


def selector_of(source_fields: list | None) -> bytes | str | None:
    """The selector filter of a decoded attach `source` (filters are its 8th field)."""
    if not source_fields or len(source_fields) < 8 or not source_fields[7]:
        return None
    filters = source_fields[7]
    if not isinstance(filters, dict):
        return None
    for key, value in filters.items():
        if key == SELECTOR_FILTER or (isinstance(key, bytes) and key.endswith(b"selector-filter:string")):
            return value
    return None
