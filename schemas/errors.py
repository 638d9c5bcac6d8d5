"""Typed errors of the shared contract."""


class ContractError(Exception):
    """Base class for violations of the wire contract detected by the encoder."""


class EncodeError(ContractError):
    """The encoder was given parameters or a record id the contract forbids."""


class LakeLocationError(ContractError):
    """A lake or checkpoint URL that names no usable location."""
