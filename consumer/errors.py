"""Typed errors of the consumer."""

from __future__ import annotations


class ConsumerError(Exception):
    """Base class of every error the consumer raises on purpose."""


class ConfigError(ConsumerError):
    """Missing or invalid configuration; the message names every offending setting."""


class CheckpointStoreError(ConsumerError):
    """The checkpoint location cannot be used (bad URL, unreadable state)."""


class LakeWriteError(ConsumerError):
    """Writing to the lake failed and retrying was abandoned (shutdown)."""


class SourceError(ConsumerError):
    """The event source (Event Hubs) could not be reached or configured."""


class ShutdownTimeout(ConsumerError):
    """Flushing and checkpointing did not finish within the shutdown deadline."""
