"""Which deployment is of which deployment type and region: the usage record names the deployment, not its type.

CSV with columns `deployment,deployment_type,region` (`#` lines are comments). `region` empty means the region
the response reported. A row whose deployment is `*` is an explicit fallback for every deployment not listed;
without one, usage of an unlisted deployment is reported as unpriced (`unknown_deployment`), never guessed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from aggregator.deployment_types import DeploymentType, normalize_region, parse_deployment_type
from aggregator.errors import DeploymentsConfigError

FALLBACK = "*"
DEPLOYMENTS_SCHEMA = pa.schema(
    [
        pa.field("deployment", pa.string(), nullable=False),
        pa.field("deployment_type", pa.string(), nullable=False),
        pa.field("region", pa.string()),
    ]
)


@dataclass(frozen=True)
class DeploymentInfo:
    deployment: str
    deployment_type: DeploymentType
    region: str | None


def load_deployments(path: Path) -> list[DeploymentInfo]:
    if not path.is_file():
        raise DeploymentsConfigError(f"deployments config {path} does not exist")
    return parse_deployments(path.read_bytes().decode("utf-8-sig"), str(path))


def parse_deployments(text: str, source: str) -> list[DeploymentInfo]:
    """A deployments map's CSV text (read by common.storage.read_config_file from a path or a Blob URL)."""
    lines = io.StringIO(text, newline="")
    reader = csv.DictReader(line for line in lines if line.strip() and not line.startswith("#"))
    if not {"deployment", "deployment_type"} <= set(reader.fieldnames or []):
        raise DeploymentsConfigError(f"{source}: needs the columns deployment, deployment_type[, region]")
    seen: set[str] = set()
    result = []
    for number, row in enumerate(reader, start=2):
        where = f"{source}, row {number}"
        name = (row.get("deployment") or "").strip()
        if not name:
            raise DeploymentsConfigError(f"{where}: deployment is empty")
        if name in seen:
            raise DeploymentsConfigError(f"{where}: deployment {name!r} is listed twice")
        seen.add(name)
        try:
            kind = parse_deployment_type(row.get("deployment_type") or "", where)
        except ValueError as exc:
            raise DeploymentsConfigError(str(exc)) from None
        result.append(DeploymentInfo(name, kind, normalize_region(row.get("region") or None)))
    return result


def deployments_table(rows: list[DeploymentInfo]) -> pa.Table:
    return pa.table(
        {
            "deployment": [r.deployment for r in rows],
            "deployment_type": [r.deployment_type.value for r in rows],
            "region": [r.region for r in rows],
        },
        schema=DEPLOYMENTS_SCHEMA,
    )
