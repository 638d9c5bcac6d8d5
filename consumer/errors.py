"""Typed errors of the consumer, on the categories of `common.errors` (each carries its exit code)."""

from __future__ import annotations

from common.errors import ChargebackError, ConfigurationError, UnavailableError


class ConsumerError(ChargebackError):
    """Base class of every error the consumer raises on purpose."""


class ConfigError(ConsumerError, ConfigurationError):
    """Missing or invalid configuration; the message names every offending environment variable."""


class CheckpointStoreError(ConsumerError, ConfigurationError):
    """The checkpoint location cannot be used (bad URL, unreadable state)."""


class HealthPortError(ConsumerError, UnavailableError):
    """The health endpoint cannot listen on CHARGEBACK_HEALTH_PORT (in use, not allowed)."""


class EventHubUnavailableError(ConsumerError, UnavailableError):
    """Event Hubs could not be read at start-up: unreachable, no such hub, or the credential was refused."""
