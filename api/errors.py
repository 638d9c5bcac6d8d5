"""Typed errors of the read API (configuration and start-up; request errors are HTTP statuses)."""

from __future__ import annotations

from common.errors import ChargebackError, ConfigurationError, UnavailableError


class ApiError(ChargebackError):
    """Base class of every error the API stage raises on purpose."""


class ApiConfigError(ApiError, ConfigurationError):
    """The API's settings cannot be used as given (the message names the environment variables)."""


class ApiUnavailableError(ApiError, UnavailableError):
    """The API cannot start: its port is taken, or the lake cannot be read."""
