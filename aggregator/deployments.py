"""Which deployment is of which deployment type and region: the usage record names the deployment, not its type.

CSV with columns `deployment,deployment_type,region` (`#` lines are comments). `region` empty means the region
the response reported. A row whose deployment is `*` is an explicit fallback for every deployment not listed;
without one, usage of an unlisted deployment is reported as unpriced (`unknown_deployment`), never guessed.
"""

from __future__ import annotations

import csv
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
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(line for line in handle if line.strip() and not line.startswith("#"))
            if not {"deployment", "deployment_type"} <= set(reader.fieldnames or []):
                raise DeploymentsConfigError(f"{path}: needs the columns deployment, deployment_type[, region]")
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise DeploymentsConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    except (OSError, csv.Error) as exc:
        raise DeploymentsConfigError(
            f"{path}: cannot be read as CSV: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    seen: set[str] = set()
    result = []
    for number, row in enumerate(rows, start=2):
        where = f"{path}, row {number}"
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
