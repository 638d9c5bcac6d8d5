"""Typed errors of the aggregator. The CLI maps each to an exit code (common/exitcodes.py)."""

from __future__ import annotations


class AggregatorError(Exception):
    """Base class of every error the aggregator reports to its user."""


class ConfigFileError(AggregatorError):
    """A price sheet, deployments map or PTU config that cannot be used as it stands."""


class PriceSheetError(ConfigFileError):
    """The price sheet is malformed: a bad unit, an overlapping validity range, a negative price..."""


class DeploymentsConfigError(ConfigFileError):
    """The deployments map (deployment name -> deployment type, region) is malformed."""


class PtuConfigError(ConfigFileError):
    """The provisioned-throughput config is malformed."""


class RetailPricesError(AggregatorError):
    """A saved Azure Retail Prices API response that cannot be converted into a price sheet."""


class LakeNotFoundError(AggregatorError):
    """The lake, or a table in it that the command needs, does not exist."""


class ArgumentError(AggregatorError):
    """A command-line argument that cannot be used as given."""


class DateRangeError(ArgumentError):
    """An impossible date, month or range."""


class QueryError(AggregatorError):
    """An ad-hoc query that failed, or that tried to do more than read."""


class NoDataError(AggregatorError):
    """The command needs derived tables that have not been built yet (run `chargeback aggregate`)."""
