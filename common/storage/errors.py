"""What can go wrong with a storage location, as the categories of `common.errors` (each carries its exit code)."""

from __future__ import annotations

from common.errors import ConfigurationError, UnavailableError


class StorageLocationError(ConfigurationError):
    """A location (lake, checkpoints, configuration file) or connection string that cannot be used as written."""


class StorageUnavailableError(UnavailableError):
    """The location is well formed but cannot be used now: no credential, forbidden, unreachable, container missing."""
