"""One error hierarchy for every stage; each error carries the exit code the shell turns it into.

A stage's own base error (``ConsumerError``, ``AggregatorError``...) derives from :class:`ChargebackError`, and each
concrete error also derives from the category that says how the command ends (configuration, not found,
unavailable, data check). The `chargeback` shell catches :class:`ChargebackError` once, prints one redacted line
(``error: ...``) and exits with ``exit_code``. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import ClassVar

from common.exitcodes import ExitCode


class ChargebackError(Exception):
    """Base class of every error raised on purpose: an expected failure with a one-line message for the user."""

    exit_code: ClassVar[ExitCode] = ExitCode.FAILURE


class UsageError(ChargebackError):
    """An argument that cannot be used as given."""

    exit_code = ExitCode.USAGE


class ConfigurationError(ChargebackError):
    """Missing or invalid configuration: an environment variable, a configuration file, a location."""

    exit_code = ExitCode.CONFIG


class NotFoundError(ChargebackError):
    """An input the command needs does not exist."""

    exit_code = ExitCode.NOT_FOUND


class UnavailableError(ChargebackError):
    """An external dependency is unreachable, refuses us, or is missing (Event Hubs, storage, Mono)."""

    exit_code = ExitCode.UNAVAILABLE


class DataCheckError(ChargebackError):
    """The command ran, but the data failed a check it was asked to make."""

    exit_code = ExitCode.DATA
