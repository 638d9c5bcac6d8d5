"""Typed errors of the FinOps stage; each carries its exit code through its `common.errors` category."""

from __future__ import annotations

from common.errors import ChargebackError, ConfigurationError, NotFoundError, UnavailableError, UsageError


class FinopsError(ChargebackError):
    """Base class of every error the FinOps stage reports to its user."""


class BudgetsConfigError(FinopsError, ConfigurationError):
    """The budgets file cannot be used as it stands: one line per bad row, naming the row and the column."""


class FinopsSettingsError(FinopsError, ConfigurationError):
    """A FinOps setting (alert rule, webhook, enforcement target) that cannot be used."""


class ScopeNotSupportedError(FinopsError, ConfigurationError):
    """A budget scope the ledger does not carry."""


class FinopsArgumentError(FinopsError, UsageError):
    """A command-line argument that cannot be used as given (a bad --as-of)."""


class LedgerNotFoundError(FinopsError, NotFoundError):
    """The lake or the roll-ups the evaluation needs are missing."""


class ApimUnavailableError(FinopsError, UnavailableError):
    """API Management's management API refused or could not be reached."""


class DeliveryFailedError(FinopsError, UnavailableError):
    """Some notifications could not be delivered after their retries (each is recorded in `notifications`)."""
