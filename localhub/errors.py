"""Typed errors of the local Event Hubs server."""

from __future__ import annotations


class LocalHubError(Exception):
    """Base class of every error the local Event Hubs server raises."""


class HubSpecError(LocalHubError, ValueError):
    """A `NAME[:PARTITIONS]` hub specification (flag or argument) is malformed."""


class UnknownEntityError(LocalHubError, KeyError):
    """A hub or partition that the server does not serve was named."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown entity"


class DataDirError(LocalHubError):
    """The data directory does not match the hubs asked for, or cannot be used."""


class MalformedFrameError(LocalHubError):
    """A client sent bytes that are not a valid AMQP frame or message; its connection is closed."""


class MalformedMessageError(LocalHubError):
    """A client sent a message whose sections cannot be parsed; the delivery is rejected."""


class NotStartedError(LocalHubError, RuntimeError):
    """An accessor that needs a running server was called before `start()` or after `stop()`."""
