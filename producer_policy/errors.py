"""Typed errors of the producer policy package, on the categories of `common.errors` (each carries its exit code)."""

from __future__ import annotations

from common.errors import (
    ChargebackError,
    ConfigurationError,
    DataCheckError,
    NotFoundError,
    UnavailableError,
    UsageError,
)


class PolicyError(ChargebackError):
    """Base class of every error this package raises."""


class RenderError(PolicyError, UsageError):
    """The render parameters are invalid or the rendered policy breaks one of APIM's limits."""


class OptionError(PolicyError, UsageError):
    """A command-line option of `policy render|simulate` that cannot be used as given."""


class StaleRenderError(PolicyError, DataCheckError):
    """`policy render --check`: the files at --out differ from what the render produces now."""


class SimulationCheckError(PolicyError, DataCheckError):
    """`policy simulate` ran, but a policy expression failed or a record would be dead-lettered."""


class PolicySyntaxError(PolicyError, DataCheckError):
    """The policy document cannot be parsed (malformed XML, unterminated expression, unknown fragment)."""


class NamedValueError(PolicyError, DataCheckError):
    """A `{{named value}}` the policy references has no value."""


class MonoUnavailableError(PolicyError, UnavailableError):
    """`mono` or `mcs` (or Newtonsoft.Json) is not installed."""


class CompileError(PolicyError):
    """The policy's C# expressions do not compile."""


class HarnessError(PolicyError):
    """The Mono harness process failed or answered something unexpected (exit 1: a bug of ours)."""


class CacheDirError(PolicyError, ConfigurationError):
    """`CHARGEBACK_POLICY_CACHE_DIR` cannot hold the compiled harness (not a folder, not writable)."""


class ExchangeFormatError(PolicyError, UsageError):
    """A request or response file given to `simulate` is not in the documented format."""


class ExchangeFileError(ExchangeFormatError, NotFoundError):
    """A request or response file given to `simulate` does not exist or cannot be read."""

    exit_code = NotFoundError.exit_code
