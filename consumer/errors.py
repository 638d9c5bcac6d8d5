"""Typed errors of the consumer."""

from __future__ import annotations

from common.errors import UnavailableError


class ConsumerError(Exception):
    """Base class of every error the consumer raises on purpose."""


class ConfigError(ConsumerError):
    """Missing or invalid configuration; the message names every offending setting."""


class CheckpointStoreError(ConsumerError):
    """The checkpoint location cannot be used (bad URL, unreadable state)."""


class EventHubUnavailableError(ConsumerError, UnavailableError):
    """Event Hubs could not be read at start-up: unreachable, no such hub, or the credential was refused."""
