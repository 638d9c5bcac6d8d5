"""Typed errors of the shared contract, on the categories of `common.errors` (each carries its exit code)."""

from common.errors import ChargebackError, DataCheckError


class ContractError(ChargebackError):
    """Base class for violations of the wire contract detected by the encoder."""


class EncodeError(ContractError, DataCheckError):
    """The encoder was given parameters or a record id the contract forbids."""
