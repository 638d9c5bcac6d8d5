"""A local Event Hubs server speaking real AMQP 1.0 to the unmodified `azure-eventhub` SDK.

`LocalHub` runs it on an asyncio loop (in-process, for tests), `running_localhub` on a background thread (sync
tests), and `chargeback devhub` / `python -m localhub` in the foreground. See the README section `localhub`.
"""

from localhub.config import HubSpec, parse_hub_spec
from localhub.server import LocalHub
from localhub.storage import StoredEvent
from localhub.threaded import SyncLocalHub, running_localhub

__all__ = ["HubSpec", "LocalHub", "StoredEvent", "SyncLocalHub", "parse_hub_spec", "running_localhub"]
