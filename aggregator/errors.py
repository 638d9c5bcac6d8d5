"""Typed errors of the aggregator, on the categories of `common.errors`: each carries its exit code, and the
`chargeback` shell prints it as one line."""

from __future__ import annotations

from common.errors import ChargebackError, ConfigurationError, DataCheckError, NotFoundError, UsageError


class AggregatorError(ChargebackError):
    """Base class of every error the aggregator reports to its user."""


class ConfigFileError(AggregatorError, ConfigurationError):
    """A price sheet, deployments map or PTU config that cannot be used as it stands."""


class PriceSheetError(ConfigFileError):
    """The price sheet is malformed: a bad unit, an overlapping validity range, a negative price..."""


class DeploymentsConfigError(ConfigFileError):
    """The deployments map (deployment name -> deployment type, region) is malformed."""


class PtuConfigError(ConfigFileError):
    """The provisioned-throughput config is malformed."""


class RetailPricesError(AggregatorError, DataCheckError):
    """A saved Azure Retail Prices API response that cannot be converted into a price sheet."""


class LakeNotFoundError(AggregatorError, NotFoundError):
    """The lake, or a table in it that the command needs, does not exist."""


class CorruptLakeFileError(AggregatorError, DataCheckError):
    """A file in a lake table that is not readable Parquet (truncated, overwritten, or not Parquet at all)."""


class ArgumentError(AggregatorError, UsageError):
    """A command-line argument that cannot be used as given."""


class DateRangeError(ArgumentError):
    """An impossible date, month or range."""


class QueryError(AggregatorError, UsageError):
    """An ad-hoc query that failed, or that tried to do more than read."""


class NoDataError(AggregatorError, NotFoundError):
    """The command needs derived tables that have not been built yet (run `chargeback aggregate`)."""


class InputFileNotFoundError(AggregatorError, NotFoundError):
    """A file named on the command line does not exist."""
