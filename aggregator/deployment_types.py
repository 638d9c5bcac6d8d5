"""The deployment types Azure OpenAI bills differently, and how region names are compared."""

from __future__ import annotations

from enum import StrEnum


class DeploymentType(StrEnum):
    GLOBAL = "global"
    """Global Standard: pay per token, processed in any region."""
    DATA_ZONE = "data_zone"
    """Data Zone Standard: pay per token, processed within a data zone (EU, US)."""
    REGIONAL = "regional"
    """(Regional) Standard: pay per token, processed in the resource's region."""
    BATCH = "batch"
    """Global Batch: asynchronous jobs at about half the Global Standard price."""
    PROVISIONED = "provisioned"
    """Provisioned throughput (PTU): a fixed hourly cost, allocated by token share (aggregator/ptu.py)."""


ANY_REGION = "*"


def normalize_region(value: str | None) -> str | None:
    """'East US 2', 'eastus2' and 'EASTUS2' are one region; '*' means any region."""
    if value is None:
        return None
    value = value.strip()
    if value == ANY_REGION:
        return value
    return "".join(value.lower().split()) or None


def parse_deployment_type(value: str, where: str) -> DeploymentType:
    cleaned = value.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return DeploymentType(cleaned)
    except ValueError:
        allowed = ", ".join(t.value for t in DeploymentType)
        raise ValueError(f"{where}: deployment type {value!r} is not one of {allowed}") from None
