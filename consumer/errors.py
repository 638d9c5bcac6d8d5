"""Typed errors of the consumer."""

from __future__ import annotations


class ConsumerError(Exception):
    """Base class of every error the consumer raises on purpose."""


class ConfigError(ConsumerError):
    """Missing or invalid configuration; the message names every offending setting."""


class CheckpointStoreError(ConsumerError):
    """The checkpoint location cannot be used (bad URL, unreadable state)."""
