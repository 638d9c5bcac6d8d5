"""Contracts shared by every stage: the wire envelope, record models, Arrow schemas and the reference codec."""

CONTRACT_VERSION = 1
