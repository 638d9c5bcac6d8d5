"""Typed errors of the producer policy package."""

from __future__ import annotations


class PolicyError(Exception):
    """Base class of every error this package raises."""


class RenderError(PolicyError):
    """The render parameters are invalid or the rendered policy breaks one of APIM's limits."""


class PolicySyntaxError(PolicyError):
    """The policy document cannot be parsed (malformed XML, unterminated expression, unknown fragment)."""


class NamedValueError(PolicyError):
    """A `{{named value}}` the policy references has no value."""


class MonoUnavailableError(PolicyError):
    """`mono` or `mcs` (or Newtonsoft.Json) is not installed."""


class CompileError(PolicyError):
    """The policy's C# expressions do not compile."""


class HarnessError(PolicyError):
    """The Mono harness process failed or answered something unexpected."""


class ExchangeFormatError(PolicyError):
    """A request or response file given to `simulate` is not in the documented format."""
