"""Typed errors of the local Event Hubs server, on the categories of `common.errors` (each carries its exit code)."""

from __future__ import annotations

from common.errors import ChargebackError, ConfigurationError, UnavailableError, UsageError


class LocalHubError(ChargebackError):
    """Base class of every error the local Event Hubs server raises."""


class HubSpecError(LocalHubError, UsageError, ValueError):
    """A `NAME[:PARTITIONS]` hub specification (flag or argument) is malformed."""


class UnknownEntityError(LocalHubError, KeyError):
    """A hub or partition that the server does not serve was named."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown entity"


class DataDirError(LocalHubError, ConfigurationError):
    """The data directory does not match the hubs asked for, or cannot be used."""


class ListenError(LocalHubError, UnavailableError):
    """The server cannot listen on the address and port asked for (in use, not allowed, no such address)."""


class MalformedFrameError(LocalHubError):
    """A client sent bytes that are not a valid AMQP frame or message; its connection is closed."""


class MalformedMessageError(LocalHubError):
    """A client sent a message whose sections cannot be parsed; the delivery is rejected."""


class NotStartedError(LocalHubError, RuntimeError):
    """An accessor that needs a running server was called before `start()` or after `stop()`."""
